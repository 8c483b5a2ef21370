// What shardgate answers when a backend server (or something posing as one) asks for more than
// it should: the password in clear text (PostgreSQL `password`, MySQL mysql_clear_password), or
// AuthenticationOk before SCRAM's proof. A scripted peer on loopback plays the hostile server:
// no real PostgreSQL or MariaDB behaves this way under the launcher's configuration.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MysqlServerConnection } from '../../src/backend/mysql-server-connection.js';
import { PgServerConnection } from '../../src/backend/pg-server-connection.js';
import { CAP, SERVER_CAPABILITIES } from '../../src/protocol/mysql/constants.js';
import { encodeHandshakeV10 } from '../../src/protocol/mysql/handshake.js';
import { framePayload } from '../../src/protocol/mysql/packet-io.js';

const PASSWORD = 'backend-secret-pw';
let server: net.Server | null = null;
const peers: net.Socket[] = [];

afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

/** A peer that answers the n-th chunk it receives with replies[n] (or greets with `greeting`). */
async function hostile(
  replies: Buffer[],
  greeting?: Buffer,
): Promise<{ port: number; received: () => Buffer }> {
  let received = Buffer.alloc(0);
  server = net.createServer((socket) => {
    let n = 0;
    peers.push(socket);
    socket.on('error', () => undefined);
    if (greeting) socket.write(greeting);
    socket.on('data', (d) => {
      received = Buffer.concat([received, d]);
      const reply = replies[n++];
      if (reply) socket.write(reply);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { port: (server!.address() as net.AddressInfo).port, received: () => received };
}

function auth(code: number, extra = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0x52; // 'R'
  b.writeInt32BE(8 + extra.length, 1);
  b.writeInt32BE(code, 5);
  return Buffer.concat([b, extra]);
}
const READY = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);

/** A MySQL server's first packet, asking for `authPlugin` with these capabilities. */
function mysqlGreeting(serverVersion: string, capabilities: number, authPlugin: string): Buffer {
  const handshake = encodeHandshakeV10({
    serverVersion,
    connectionId: 1,
    scramble: Buffer.alloc(20, 1),
    capabilities,
    mariadbCapabilities: 0,
    collation: 45,
    status: 2,
    authPlugin,
  });
  return framePayload(handshake, 0);
}

const pgAddress = (port: number, allowCleartextPassword = false) => ({
  name: 'hostile',
  shard: 's0',
  role: 'primary' as const,
  host: '127.0.0.1',
  port,
  database: 'd',
  user: 'u',
  password: PASSWORD,
  allowCleartextPassword,
});

describe('backend authentication against a hostile server', () => {
  it('PostgreSQL: a clear-text password request is refused unless configured', async () => {
    const peer = await hostile([auth(3), Buffer.concat([auth(0), READY])]);
    await expect(PgServerConnection.connect(pgAddress(peer.port), 5_000)).rejects.toThrow(/clear text/);
    expect(peer.received().toString('latin1')).not.toContain(PASSWORD);
    for (const p of peers.splice(0)) p.destroy();
    await new Promise<void>((r) => server!.close(() => r()));

    const allowed = await hostile([auth(3), Buffer.concat([auth(0), READY])]);
    const conn = await PgServerConnection.connect(pgAddress(allowed.port, true), 5_000);
    expect(allowed.received().toString('latin1')).toContain(PASSWORD);
    conn.socket.destroy();
  });

  it('PostgreSQL: AuthenticationOk before the SCRAM proof is refused', async () => {
    const sasl = auth(10, Buffer.from('SCRAM-SHA-256\0\0'));
    const peer = await hostile([sasl, Buffer.concat([auth(0), READY])]);
    await expect(PgServerConnection.connect(pgAddress(peer.port), 5_000)).rejects.toThrow(/SCRAM/);
  });

  it('MySQL: mysql_clear_password is refused unless configured, the password never sent', async () => {
    const peer = await hostile(
      [],
      mysqlGreeting('8.0.0-hostile', SERVER_CAPABILITIES, 'mysql_clear_password'),
    );
    await expect(
      MysqlServerConnection.connect(
        { ...pgAddress(peer.port), password: PASSWORD },
        { foundRows: false, timeoutMs: 5_000 },
      ),
    ).rejects.toThrow(/mysql_clear_password/);
    expect(peer.received().toString('latin1')).not.toContain(PASSWORD);
  });

  it('MySQL: a server without TLS is refused when TLS is configured, the password never sent', async () => {
    const peer = await hostile(
      [],
      mysqlGreeting('10.11.0-no-tls', SERVER_CAPABILITIES & ~CAP.SSL, 'mysql_native_password'),
    );
    const err = await MysqlServerConnection.connect(
      { ...pgAddress(peer.port), password: PASSWORD, tls: { mode: 'require' } },
      { foundRows: false, timeoutMs: 5_000 },
    ).catch((e: unknown) => e as { code?: string; mysqlErrno?: number; message: string });
    expect(err).toMatchObject({ code: 'BACKEND_TLS_REFUSED', mysqlErrno: 2026 });
    expect((err as Error).message).toMatch(/does not accept TLS/);
    expect(peer.received().length).toBe(0);
  });

  it('PostgreSQL: a server answering N to SSLRequest is refused, nothing else is sent', async () => {
    const peer = await hostile([Buffer.from('N')]);
    const err = await PgServerConnection.connect(
      { ...pgAddress(peer.port), tls: { mode: 'require' } },
      5_000,
    ).catch((e: unknown) => e as { code?: string });
    expect(err).toMatchObject({ code: 'BACKEND_TLS_REFUSED' });
    expect(peer.received().length).toBe(8);
  });
});
