// What the drivers' own test suites (node-postgres, postgres.js) found, replayed with the real
// drivers through shardgate in both pool modes: each case behaves as on a direct connection.
import { existsSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { appLoginPostgresJs } from '../support/app-login.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

let fx: ProxyFixture;
let sessionProxy: ProxyHandle;
const ports: Record<'transaction' | 'session', number> = { transaction: 0, session: 0 };

beforeAll(async () => {
  fx = await startProxyFixture({ shards: 1, replicas: 0, demoData: false });
  sessionProxy = await startProxy(
    { ...fx.config, pool: { ...fx.config.pool, mode: 'session' } },
    { log: silentLogger(), postgresPort: 0, adminPort: null },
  );
  ports.transaction = fx.port;
  ports.session = sessionProxy.postgres.port;
});

afterAll(async () => {
  await sessionProxy?.close();
  await fx?.stop();
});

const opened: Array<{ end(): Promise<unknown> }> = [];
afterAll(async () => {
  await Promise.all(opened.map((c) => c.end().catch(() => undefined)));
});

function pgClient(mode: 'transaction' | 'session', extra: Partial<pg.ClientConfig> = {}): pg.Client {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: ports[mode],
    user: 'app',
    password: 'app',
    database: 'shardgate',
    ...extra,
  });
  opened.push(c);
  return c;
}

function pgjs(mode: 'transaction' | 'session', extra: postgres.Options<Record<string, never>> = {}) {
  const sql = postgres({
    host: '127.0.0.1',
    port: ports[mode],
    user: 'app',
    pass: 'app',
    db: 'shardgate',
    max: 1,
    onnotice: () => undefined,
    ...extra,
  });
  opened.push({ end: () => sql.end({ timeout: 1 }) });
  return sql;
}

describe.each(['transaction', 'session'] as const)('drivers through shardgate, %s pooling', (mode) => {
  it('postgres.js: a failed statement inside sql.begin() leaves the session usable', async () => {
    const sql = pgjs(mode);
    const table = `retry_${mode}`;
    await sql`create table if not exists ${sql(table)} (x int)`;
    const error = await sql
      .begin((tx) => tx`insert into ${sql(table)} (x) values (${false})`)
      .catch((e: { code?: string }) => e);
    expect((error as { code?: string }).code).toBe('42804');
    // The same text again, and other statements: answered, not hung.
    const again = await sql
      .begin((tx) => tx`insert into ${sql(table)} (x) values (${false})`)
      .catch((e: { code?: string }) => e);
    expect((again as { code?: string }).code).toBe('42804');
    expect((await sql`select ${1}::int as one`)[0]?.one).toBe(1);
    await sql`drop table ${sql(table)}`;
  });

  it('node-postgres gh-issue 600: a named statement whose Parse failed is not prepared', async () => {
    const c = pgClient(mode);
    await c.connect();
    const foo = `foo_${mode}`;
    const bar = `bar_${mode}`;
    await c.query(`create temp table ${foo}(column1 int, column2 int)`);
    await c.query(`create temp table ${bar}(column1 text, column2 text)`);
    await c.query('BEGIN');
    const fooErr = await c
      .query({ name: `insertFoo_${mode}`, text: `insert into ${foo} values($1,$2)`, values: ['one', 'two'] })
      .catch((e: { code?: string }) => e);
    expect((fooErr as { code?: string }).code).toBe('22P02');
    // Parsed inside the aborted transaction: fails, and must not count as prepared.
    const barErr = await c
      .query({ name: `insertBar_${mode}`, text: `insert into ${bar} values($1,$2)`, values: ['one', 'two'] })
      .catch((e: { code?: string }) => e);
    expect((barErr as { code?: string }).code).toBe('25P02');
    await c.query('COMMIT');
    const r = await c.query({
      name: `insertBar_${mode}`,
      text: `insert into ${bar} values($1,$2)`,
      values: ['one', 'two'],
    });
    expect(r.rowCount).toBe(1);
  });

  it('postgres.js re-prepares after DDL changed a statement result type (cached plan)', async () => {
    const sql = pgjs(mode);
    const table = `plan_${mode}`;
    const select = () => sql`select name from ${sql(table)}`;
    await sql`create table ${sql(table)} (name text)`;
    await sql`insert into ${sql(table)} values ('1')`;
    expect((await select())[0]?.name).toBe('1');
    await sql`alter table ${sql(table)} alter column name type int using name::integer`;
    expect((await select())[0]?.name).toBe(1);
    await sql`drop table ${sql(table)}`;
  });

  it('a new statement after DDL is planned against the new schema (postgres.js "Point type array")', async () => {
    const table = `ddl_${mode}`;
    const first = pgjs(mode);
    await first`create table ${first(table)} (x int)`;
    await first`insert into ${first(table)} values (1)`;
    expect((await first`select x from ${first(table)}`)[0]?.x).toBe(1);
    await first`drop table ${first(table)}`;
    await first`create table ${first(table)} (x text)`;
    await first`insert into ${first(table)} values ('a')`;
    await first.end();
    // A new client, so nothing is cached on the driver side: a direct server plans afresh.
    const second = pgjs(mode);
    expect((await second`select x from ${second(table)}`)[0]?.x).toBe('a');
    await second`drop table ${second(table)}`;
  });

  it('concurrent postgres.js cursors on several connections keep their portals', async () => {
    const clients = [pgjs(mode), pgjs(mode), pgjs(mode)];
    const totals = await Promise.all(
      clients.map(async (sql) => {
        let n = 0;
        await sql`select generate_series(1, 50) as x`.cursor(7, async (rows) => {
          n += rows.length;
        });
        return n;
      }),
    );
    expect(totals).toEqual([50, 50, 50]);
  });

  it('a Parse with more than 32,767 parameters', async () => {
    const c = pgClient(mode);
    await c.connect();
    const n = 40_000;
    const values = Array.from({ length: n }, (_, i) => i);
    // One cast types the whole array (its other parameters take the common type): ~80,000 tokens,
    // under limits.maxStatementTokens.
    const list = values.map((_, i) => (i === 0 ? '$1::int' : `$${i + 1}`)).join(',');
    const r = await c.query(`select array_length(array[${list}], 1) as n`, values);
    expect(r.rows[0]?.n).toBe(n);
  });

  it('custom GUC startup parameters reach the server; application_name is empty when unset', async () => {
    // "some" is a reserved word: the setting must be reset as a quoted name on the server.
    const sql = pgjs(mode, { connection: { 'some.flavour': 'mint', application_name: '' } });
    expect((await sql`select current_setting('some.flavour') as v`)[0]?.v).toBe('mint');
    await sql.end();
    const c = pgClient(mode);
    await c.connect();
    expect((await c.query('SHOW application_name')).rows[0]?.application_name).toBe('');
    const other = (await c.query("select current_setting('some.flavour', true) as v")).rows[0]?.v;
    expect(other ?? '').toBe('');
  });

  it('a Terminate sent before the startup packet closes quietly', async () => {
    // node-postgres: connect() then end() at once writes Terminate before the startup packet.
    const c = pgClient(mode);
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    c.connect().catch((e: Error) => errors.push(e));
    void c.end();
    await ended;
    expect(errors.map((e) => e.message)).not.toContainEqual(expect.stringContaining('startup packet'));
    // On the wire: nothing comes back, the connection just closes (as PostgreSQL does).
    const received = await new Promise<number>((resolve, reject) => {
      let bytes = 0;
      const s = net.connect({ host: '127.0.0.1', port: ports[mode] }, () =>
        s.write(Buffer.from([0x58, 0, 0, 0, 4])),
      );
      s.on('data', (d) => (bytes += d.length));
      s.on('error', reject);
      s.on('close', () => resolve(bytes));
    });
    expect(received).toBe(0);
  });

  it('pg_terminate_backend: session pooling gets the server FATAL 57P01 and a plain close; transaction pooling keeps the session', async () => {
    const c = pgClient(mode);
    const errors: Array<{ code?: string; message: string }> = [];
    c.on('error', (e) => errors.push(e));
    await c.connect();
    if (mode !== 'session') {
      // Transaction pooling: the client never owned that server connection (issue 14). A read
      // outside a transaction would be run again elsewhere; inside one, the transaction fails as
      // on the server (40001) and the session goes on.
      const killer = await fx.direct('s0-primary');
      await c.query('begin');
      const inTx = c.query('select pg_sleep(30)').catch((e: { code?: string; message: string }) => e);
      let txPid: number | undefined;
      for (let i = 0; i < 500 && txPid === undefined; i++) {
        const r = await killer.query("select pid from pg_stat_activity where query = 'select pg_sleep(30)'");
        txPid = r.rows[0]?.pid as number | undefined;
      }
      await killer.query('select pg_terminate_backend($1)', [txPid]);
      expect(((await inTx) as { code?: string }).code).toBe('40001');
      await c.query('rollback');
      expect((await c.query('select 1 as one')).rows[0]?.one).toBe(1);
      expect(errors).toEqual([]);
      await c.end();
      return;
    }
    const pid = (await c.query('select pg_backend_pid() as pid')).rows[0]?.pid as number;
    const running = c.query('select pg_sleep(30)').catch((e: { code?: string; message: string }) => e);
    const killer = await fx.direct('s0-primary');
    // The sleep is on the server before it is killed (wait on the condition, not on time).
    for (let i = 0; i < 500; i++) {
      const r = await killer.query(
        "select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(30)'",
      );
      if (r.rows[0]?.n === 1) break;
    }
    const target =
      mode === 'session'
        ? pid
        : ((await killer.query("select pid from pg_stat_activity where query = 'select pg_sleep(30)'"))
            .rows[0]?.pid as number);
    await killer.query('select pg_terminate_backend($1)', [target]);
    const err = (await running) as { code?: string; message: string };
    expect(err.code).toBe('57P01');
    const ended = await new Promise<string>((resolve) => {
      if (errors.length > 0) resolve(errors[0]!.message);
      else c.once('error', (e) => resolve(e.message));
    });
    expect(ended).toBe('Connection terminated unexpectedly');
  });

  it('postgres.js LISTEN/NOTIFY on a channel named with ; and non-ASCII characters', async () => {
    // The suite's "listen and notify with weird name" (its 50 ms window for the NOTIFY is left out:
    // under load it is missed directly too).
    const sql = pgjs(mode, { max: 1 });
    const channel = `wat-;.\u00f8.\u00a7-${mode}`;
    let resolveNotified: (payload: string) => void = () => undefined;
    const notified = new Promise<string>((resolve) => {
      resolveNotified = resolve;
    });
    const { unlisten } = await sql.listen(channel, (payload) => resolveNotified(payload));
    await sql.notify(channel, 'works');
    expect(await notified).toBe('works');
    await unlisten();
  });

  it('a bulk INSERT past limits.maxStatementTokens into an unsharded table (postgres.js "big query body")', async () => {
    // 50,000 rows, about 200,000 tokens: routed by the table without a full parse, as PostgreSQL
    // takes it; the same into a sharded table is refused (its rows would decide the shards).
    const sql = pgjs(mode);
    const table = `bulk_${mode}`;
    await sql`drop table if exists ${sql(table)}`;
    await sql`create table ${sql(table)} (x int)`;
    const rows = Array.from({ length: 50_000 }, (_, x) => ({ x }));
    expect((await sql`insert into ${sql(table)} ${sql(rows)}`).count).toBe(50_000);
    const c = pgClient(mode);
    await c.connect();
    const values = Array.from({ length: 50_000 }, (_, i) => `(${i}, 'u${i}')`).join(',');
    await c.query(`alter table ${table} add column name text`);
    expect((await c.query(`INSERT INTO ${table} (x, name) VALUES ${values}`)).rowCount).toBe(50_000);
    expect((await c.query(`select count(*)::int as n from ${table}`)).rows[0]?.n).toBe(100_000);
    await expect(c.query(`INSERT INTO users (user_id, name) VALUES ${values}`)).rejects.toMatchObject({
      code: '54001',
    });
    await expect(
      c.query(`INSERT INTO ${table} (x, name) VALUES ${values} RETURNING x`),
    ).rejects.toMatchObject({
      code: '54001',
    });
    expect((await c.query('select 1 as one')).rows[0]?.one).toBe(1);
    await c.query(`drop table ${table}`);
    await c.end();
  });

  it('node-postgres: a query that terminates its own backend gets 57P01, the queued one a plain close', async () => {
    // As the suite's pool error-tests: idle server connections were terminated just before (the
    // pooled ones shardgate holds among them), then a new client's backend terminates itself.
    const killer = await fx.direct('s0-primary');
    // Only connections opened from here on: other tests' sessions keep theirs.
    const since = (await killer.query('select now() as t')).rows[0]?.t as Date;
    for (let round = 0; round < 5; round++) {
      // Several idle server connections in shardgate's pool.
      const earlier = Array.from({ length: 8 }, () => pgClient(mode));
      await Promise.all(earlier.map((e) => e.connect()));
      await Promise.all(earlier.map((e) => e.query('select pg_sleep(0.02)')));
      await Promise.all(earlier.map((e) => e.end()));
      await killer.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where state = 'idle' and backend_type = 'client backend' and pid <> pg_backend_pid() and backend_start >= $1",
        [since],
      );
      const c = pgClient(mode);
      c.on('error', () => undefined);
      await c.connect();
      const first = c
        .query('SELECT pg_terminate_backend(pg_backend_pid())')
        .catch((e: { code?: string }) => e);
      const queued = c.query('SELECT 1').catch((e: { message: string }) => e);
      if (mode !== 'session') {
        // Transaction pooling: the server connection is shardgate's, not the client's.
        await first;
        await queued;
        continue;
      }
      expect(await first).toMatchObject({ code: '57P01' });
      expect(((await queued) as { message: string }).message).toBe('Connection terminated unexpectedly');
    }
    await killer.end();
  });

  it('replication=database passes through to the shard primary; an unknown shard is refused', async () => {
    const c = pgClient(mode, { replication: 'database' } as Partial<pg.ClientConfig>);
    await c.connect();
    const r = await c.query('IDENTIFY_SYSTEM');
    expect(r.rows[0]?.dbname).toBe('shardgate');
    await c.end();
    const sql = pgjs(mode, { connection: { replication: 'database', 'shardgate.shard': 'nope' } });
    const err = await sql`select 1`.catch((e: { code?: string; message: string }) => e);
    expect((err as { code?: string }).code).toBe('3D000');
    expect((err as { message: string }).message).toContain('shardgate.shard');
  });
});
describe('session pooling: BackendKeyData', () => {
  it('carries the backend pid of the server connection the session holds', async () => {
    const c = pgClient('session');
    await c.connect();
    const pid = (await c.query('select pg_backend_pid() as pid')).rows[0]?.pid as number;
    expect((c as unknown as { processID: number }).processID).toBe(pid);
  });
});

describe('Unix-socket listener (listen.postgres.socketDir)', () => {
  it('accepts clients on <socketDir>/.s.PGSQL.<port> next to TCP', async () => {
    const socketDir = mkdtempSync(path.join(os.tmpdir(), 'shardgate-sock-'));
    const proxy = await startProxy(
      {
        ...fx.config,
        listen: { ...fx.config.listen, postgres: { ...fx.config.listen.postgres, socketDir } },
      },
      { log: silentLogger(), postgresPort: 0, adminPort: null },
    );
    const port = proxy.postgres.port;
    const socketPath = path.join(socketDir, `.s.PGSQL.${port}`);
    try {
      expect(proxy.postgres.listener.socketPath).toBe(socketPath);
      const c = new pg.Client({ host: socketDir, port, user: 'app', password: 'app', database: 'shardgate' });
      await c.connect();
      expect((await c.query('select 1 as one')).rows[0]?.one).toBe(1);
      await c.end();
    } finally {
      await proxy.close();
    }
    expect(existsSync(socketPath)).toBe(false);
  });
});

describe('prepared-statement LRU (pool.maxPreparedStatements)', () => {
  it('evicting a statement keeps the replies in order (postgres.js "fragments" ERR_OUT_OF_RANGE)', async () => {
    const proxy = await startProxy(
      { ...fx.config, pool: { ...fx.config.pool, maxPreparedStatements: 2 } },
      { log: silentLogger(), postgresPort: 0, adminPort: null },
    );
    try {
      const sql = postgres(appLoginPostgresJs(proxy));
      for (let round = 0; round < 2; round++) {
        for (let i = 1; i <= 5; i++) {
          const rows = await sql.unsafe(`select $1::int + ${i} as v`, [round], { prepare: true });
          expect(rows[0]?.v).toBe(round + i);
        }
      }
      await sql.end({ timeout: 1 });
    } finally {
      await proxy.close();
    }
  });
});
