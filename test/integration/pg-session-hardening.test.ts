// Session isolation and per-session bounds in transaction pooling, against real servers:
// state changed without a SET (DO, CALL, functions calling set_config) never reaches the next
// client; inlined values read the same whatever standard_conforming_strings is; prepared
// statements and unsynced extended-protocol batches per session are bounded.
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture(
  {
    shards: 2,
    replicas: 0,
    overrides: {
      pool: { size: 2 },
      limits: { maxPreparedStatementsPerSession: 3, maxPendingClientBytes: 65_536 },
    },
  },
  180_000,
);

beforeAll(async () => {
  const s0 = await fx.direct(fx.cluster.shards[0]!.primary.name);
  await s0.query(
    "CREATE OR REPLACE FUNCTION sneaky_path() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM set_config('search_path', 'evil2', false); RETURN 1; END$$",
  );
  await s0.query(
    "CREATE OR REPLACE PROCEDURE sneaky_zone() LANGUAGE plpgsql AS $$BEGIN PERFORM set_config('TimeZone', 'Asia/Tokyo', false); END$$",
  );
}, 180_000);

async function searchPath(): Promise<string> {
  const b = await fx.client();
  try {
    return (await b.query('SHOW search_path')).rows[0].search_path as string;
  } finally {
    await b.end();
  }
}

describe('state changed without a SET does not reach the next client', () => {
  it('a DO block running set_config(..., false)', async () => {
    const a = await fx.client();
    await a.query("DO $$BEGIN PERFORM set_config('search_path', 'evil', false); END$$");
    expect(await searchPath()).toBe('"$user", public');
    await a.end();
  });

  it('a user function running set_config(..., false)', async () => {
    const a = await fx.client();
    await a.query('SELECT sneaky_path()');
    expect(await searchPath()).toBe('"$user", public');
    await a.end();
  });

  it('a procedure (CALL) changing a reported setting: it follows its client, not the next one', async () => {
    const a = await fx.client();
    const before = (await a.query('SHOW TimeZone')).rows[0].TimeZone as string;
    await a.query('CALL sneaky_zone()');
    const b = await fx.client();
    expect((await b.query('SHOW TimeZone')).rows[0].TimeZone).toBe(before);
    expect((await a.query('SHOW TimeZone')).rows[0].TimeZone).toBe('Asia/Tokyo');
    await b.end();
    await a.end();
  });
});

describe('values inlined into a split INSERT', () => {
  it('keep their backslashes and quotes with standard_conforming_strings off', async () => {
    const c = await fx.client();
    await c.query('SET standard_conforming_strings = off');
    const ids = Array.from({ length: 8 }, (_, i) => 910_001 + i);
    const names = ids.map((id, i) =>
      i % 2 === 0 ? `ends in a backslash ${id}\\` : `'), (${id + 100}, 'injected') --`,
    );
    const values = ids.map((_, i) => `($${2 * i + 1}, $${2 * i + 1}, $${2 * i + 2})`).join(', ');
    await c.query(
      `INSERT INTO users (id, user_id, name) VALUES ${values}`,
      ids.flatMap((id, i) => [id, names[i]]),
    );
    const back = await c.query('SELECT id, name FROM users WHERE id >= 910000 AND id < 920000 ORDER BY id');
    expect(back.rows.map((r) => [Number(r.id), r.name])).toEqual(ids.map((id, i) => [id, names[i]]));
    await c.end();
  });

  it("refuses a '...' string with a backslash while the setting is off (the parser would read it differently)", async () => {
    const c = await fx.client();
    await c.query('SET standard_conforming_strings = off');
    await expect(c.query("SELECT 'a\\' AS v")).rejects.toMatchObject({ code: '22P06' });
    // E'' strings read the same either way.
    expect((await c.query("SELECT E'a\\\\b' AS v")).rows[0].v).toBe('a\\b');
    await c.query('SET standard_conforming_strings = on');
    expect((await c.query("SELECT 'a\\' AS v")).rows[0].v).toBe('a\\');
    await c.end();
  });
});

describe('per-session bounds', () => {
  it('refuses a statement past limits.maxStatementTokens and nested SHARDGATE EXPLAIN; the session goes on', async () => {
    const c = await fx.client();
    const ones = `SELECT ${Array(200_000).fill('1').join(',')}`;
    await expect(c.query(ones)).rejects.toMatchObject({ code: '54001' });
    await expect(c.query('SHARDGATE EXPLAIN SHARDGATE EXPLAIN SELECT 1')).rejects.toMatchObject({
      code: '0A000',
    });
    expect((await c.query('SELECT 6 AS n')).rows[0].n).toBe(6);
    await c.end();
  });

  it('caps prepared statements per session with a coded error; the session goes on', async () => {
    const c = await fx.client();
    for (const n of [1, 2, 3]) {
      expect((await c.query({ name: `p${n}`, text: `SELECT ${n}::int AS n` })).rows[0].n).toBe(n);
    }
    await expect(c.query({ name: 'p4', text: 'SELECT 4::int AS n' })).rejects.toMatchObject({
      code: '53400',
    });
    expect((await c.query({ name: 'p2', text: 'SELECT 2::int AS n' })).rows[0].n).toBe(2);
    expect((await c.query('SELECT 5 AS n')).rows[0].n).toBe(5);
    await c.end();
  });

  it('closes a session whose extended-protocol batch without Sync passes limits.maxPendingClientBytes', async () => {
    const bystander = await fx.client();
    const body = (type: string, payload: Buffer) => {
      const head = Buffer.alloc(5);
      head[0] = type.charCodeAt(0);
      head.writeInt32BE(payload.length + 4, 1);
      return Buffer.concat([head, payload]);
    };
    const startup = Buffer.from('\0\0\0\0\0\x03\0\0user\0trusty\0database\0shardgate\0\0');
    startup.writeInt32BE(startup.length, 0);
    const parse = body('P', Buffer.from(`\0SELECT 1 /* ${'z'.repeat(1000)} */\0\0\0`));
    const received: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port: fx.port });
    socket.on('data', (d) => received.push(d));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(startup);
    for (let i = 0; i < 100; i++) socket.write(parse);
    await closed;
    const text = Buffer.concat(received).toString('latin1');
    expect(text).toContain('C54000');
    expect(text).toContain('maxPendingClientBytes');
    expect((await bystander.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await bystander.end();
  });
});
