// Before login, on both protocols: no message larger than 10,000 bytes is accepted (a length
// header alone used to reserve up to limits.maxMessageBytes), and one source address holds at
// most limits.maxUnauthenticatedPerAddress connections that have not logged in, counted over
// both listeners; logged-in sessions do not count.
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const fx = useMysqlProxyFixture(
  {
    shards: 1,
    replicas: 0,
    // A long startup timeout: only the new limits can end these connections quickly.
    overrides: { limits: { maxUnauthenticatedPerAddress: 3, startupTimeoutMs: 600_000 } },
  },
  300_000,
);

let pgPort: number;

beforeAll(async () => {
  pgPort = fx.proxy.postgres.port;
}, 300_000);

interface Raw {
  socket: net.Socket;
  received(): Buffer;
  closed: Promise<void>;
  /** Resolves once at least n bytes have arrived. */
  bytes(n: number): Promise<Buffer>;
}

function raw(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    const waiters: Array<() => void> = [];
    socket.on('data', (d) => {
      data = Buffer.concat([data, d]);
      for (const w of waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    const bytes = async (n: number) => {
      while (data.length < n) await new Promise<void>((r) => waiters.push(r));
      return data;
    };
    socket.once('connect', () => resolve({ socket, received: () => data, closed, bytes }));
    socket.once('error', reject);
  });
}

/** A PostgreSQL socket the proxy has accepted (it answered an SSLRequest) and that never logs in. */
async function pendingPg(): Promise<Raw> {
  const r = await raw(pgPort);
  const ssl = Buffer.alloc(8);
  ssl.writeInt32BE(8, 0);
  ssl.writeInt32BE(80877103, 4);
  r.socket.write(ssl);
  await Promise.race([r.bytes(1), r.closed]);
  return r;
}

function pgStartup(user: string, database: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

/** The SQLSTATE of the first ErrorResponse in a PostgreSQL byte stream. */
function sqlstate(bytes: Buffer): string | null {
  const at = bytes.indexOf(0x45); // 'E'
  if (at < 0) return null;
  const m = /C([0-9A-Z]{5})\0/.exec(bytes.subarray(at).toString('latin1'));
  return m?.[1] ?? null;
}

describe('pre-auth limits', () => {
  it('PostgreSQL: an auth message over 10,000 bytes is refused at its header', async () => {
    const r = await raw(pgPort);
    r.socket.write(pgStartup('app', 'shardgate'));
    await r.bytes(9); // AuthenticationSASL
    const head = Buffer.alloc(5);
    head[0] = 0x70; // 'p'
    head.writeInt32BE(50_000_000, 1);
    r.socket.write(Buffer.concat([head, Buffer.from('SCRAM-SHA-256\0')]));
    await r.closed;
    expect(sqlstate(r.received())).toBe('54000');
  });

  it('MySQL: a login packet over 10,000 bytes is refused at its header', async () => {
    const r = await raw(fx.port);
    await r.bytes(4); // the greeting
    const greetingLength = r.received().readUIntLE(0, 3) + 4;
    await r.bytes(greetingLength);
    const head = Buffer.from([0xff, 0xff, 0xff, 0x01]); // 16 MB - 1 payload, seq 1
    r.socket.write(Buffer.concat([head, Buffer.alloc(100)]));
    await r.closed;
    const after = r.received().subarray(greetingLength);
    expect(after[4]).toBe(0xff); // ERR packet
    expect(after.readUInt16LE(5)).toBe(1153); // ER_NET_PACKET_TOO_LARGE
  });

  it('limits unauthenticated connections per address over both protocols; logged-in ones do not count', async () => {
    const held = [await pendingPg(), await pendingPg(), await pendingPg()];
    // A fourth, on either port, is refused with a message that names the limit.
    const fourth = await raw(pgPort);
    await fourth.closed;
    expect(sqlstate(fourth.received())).toBe('53300');
    expect(fourth.received().toString('latin1')).toContain('maxUnauthenticatedPerAddress');
    await expect(fx.connect()).rejects.toMatchObject({ errno: 1040 });

    // One pending socket goes away: a client can log in again (once the proxy saw the close).
    held.pop()!.socket.destroy();
    let mysqlSession = null;
    for (let i = 0; i < 500 && !mysqlSession; i++) {
      mysqlSession = await fx.connect().catch(() => null);
      if (!mysqlSession) await new Promise((r) => setTimeout(r, 20));
    }
    expect(mysqlSession).not.toBeNull();
    const [rows] = await mysqlSession!.query('SELECT 1 AS one');
    expect((rows as Array<{ one: number }>)[0]?.one).toBe(1);

    // The logged-in session no longer counts: a third pending socket fits, a fourth does not.
    const third = await pendingPg();
    expect(third.received().toString('latin1')).toBe('N');
    await expect(fx.connect()).rejects.toMatchObject({ errno: 1040 });
    for (const r of [...held, third]) r.socket.destroy();
  });
});
