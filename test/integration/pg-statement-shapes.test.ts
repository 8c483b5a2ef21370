// A statement postgres.js described once is prepared again by shardgate on a server connection
// that lacks it (here: the prepared-statement LRU closed it). When DDL changed its result type
// meanwhile, the client must get the server's "cached plan must not change result type" (and
// re-prepare), never rows of the new shape decoded by the old description (postgres.js
// "Supports fragments as dynamic parameters" in transaction pooling: ERR_OUT_OF_RANGE).
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { appLoginPostgresJs } from '../support/app-login.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

let fx: ProxyFixture;
let proxy: ProxyHandle;

beforeAll(async () => {
  fx = await startProxyFixture({ shards: 1, replicas: 0, demoData: false });
  // One server connection holding two statements: a third closes the oldest.
  proxy = await startProxy(
    { ...fx.config, pool: { ...fx.config.pool, mode: 'transaction', size: 1, maxPreparedStatements: 2 } },
    { log: silentLogger(), postgresPort: 0, adminPort: null },
  );
});

afterAll(async () => {
  await proxy?.close();
  await fx?.stop();
});

function pgjs() {
  return postgres({ ...appLoginPostgresJs(proxy), onnotice: () => undefined });
}

/** Runs `test` with two postgres.js clients through the proxy, ended afterwards whatever happens. */
async function withTwoClients(
  test: (sql: postgres.Sql, other: postgres.Sql) => Promise<void>,
): Promise<void> {
  const sql = pgjs();
  const other = pgjs();
  try {
    await test(sql, other);
  } finally {
    await sql.end({ timeout: 1 });
    await other.end({ timeout: 1 });
  }
}

/** Two other statements, so the LRU closes every earlier one on the server connection. */
async function evict(sql: postgres.Sql): Promise<void> {
  await sql.unsafe('select 1 as evict_one', [], { prepare: true });
  await sql.unsafe('select 2 as evict_two', [], { prepare: true });
}

describe('result shapes of statements shardgate prepares again (transaction pooling)', () => {
  it('a changed result type fails as on the server, postgres.js re-prepares and reads the new rows', () =>
    withTwoClients(async (sql, other) => {
      await sql`create table shape_change (a int)`;
      await sql`insert into shape_change values (1)`;
      expect(await sql`select * from shape_change`).toEqual([{ a: 1 }]);
      // Another client changes the table under the statement postgres.js keeps described.
      await other`drop table shape_change`;
      await other`create table shape_change (b text, c int)`;
      await other`insert into shape_change values ('x', 2)`;
      await evict(sql);
      expect(await sql`select * from shape_change`).toEqual([{ b: 'x', c: 2 }]);
      await sql`drop table shape_change`;
    }));

  it('a write whose result type changed runs once (the refused Bind executes nothing)', () =>
    withTwoClients(async (sql, other) => {
      await sql`create table shape_write (id int)`;
      const insert = (id: number) => sql`insert into shape_write (id) values (${id}) returning *`;
      expect(await insert(1)).toEqual([{ id: 1 }]);
      await other`alter table shape_write add column note text default 'n'`;
      await evict(sql);
      expect(await insert(2)).toEqual([{ id: 2, note: 'n' }]);
      expect(await other`select id from shape_write order by id`).toEqual([{ id: 1 }, { id: 2 }]);
      await sql`drop table shape_write`;
    }));

  it('a table created again with the same columns keeps the statement usable', () =>
    withTwoClients(async (sql, other) => {
      await sql`create table shape_same (a int, b text)`;
      await sql`insert into shape_same values (1, 'one')`;
      const select = () => sql`select * from shape_same where a = ${1}`;
      expect(await select()).toEqual([{ a: 1, b: 'one' }]);
      await other`drop table shape_same`;
      await other`create table shape_same (a int, b text)`;
      await other`insert into shape_same values (1, 'uno')`;
      await evict(sql);
      expect(await select()).toEqual([{ a: 1, b: 'uno' }]);
      await sql`drop table shape_same`;
    }));
});
