// What mysql2's own integration suite checks, replayed with mysql2 against one MariaDB directly
// and through shardgate in both pool modes. Result shapes (test-multiple-results,
// test-binary-multiple-results, test-execute-nocolumndef, test-select-json): every result set of
// a multi-statement query or a CALL, in text and binary protocol, and a prepared statement whose
// prepare answers no column definitions, reach the driver exactly as the server sends them (rows,
// field definitions, OK headers with their status flags), or the driver casts and splits results
// differently. wait_timeout (test-server-close): an idle client is closed after the timeout it set.
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { rootConnection } from '../support/mysql-root-connection.js';

let fx: MysqlProxyFixture;
let sessionProxy: ProxyHandle;
const opened: mysql.Connection[] = [];

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 1, replicas: 0 });
  sessionProxy = await startProxy(
    { ...fx.config, pool: { ...fx.config.pool, mode: 'session' } },
    { log: silentLogger(), postgresPort: 0, mysqlPort: 0, adminPort: null },
  );
  const direct = await connectDirect();
  await direct.query(
    'CREATE TABLE IF NOT EXISTS rs_rows (test int); DELETE FROM rs_rows; INSERT INTO rs_rows VALUES (0), (42), (314149); ' +
      'CREATE TABLE IF NOT EXISTS rs_none (test int); CREATE TABLE IF NOT EXISTS rs_json (j JSON); DELETE FROM rs_json; ' +
      `INSERT INTO rs_json VALUES ('{"a": [1, "\u{1F602}"]}')`,
  );
}, 240_000);

afterAll(async () => {
  await Promise.all(opened.map((c) => c.end().catch(() => c.destroy())));
  await sessionProxy?.close();
  await fx?.stop();
});

async function connectDirect(): Promise<mysql.Connection> {
  const c = await rootConnection(fx.cluster.shards[0]!.primary, {
    database: 'shardgate',
    multipleStatements: true,
  });
  opened.push(c);
  return c;
}

/** Direct, then shardgate in transaction and in session pooling. */
async function targets(): Promise<Array<[string, mysql.Connection]>> {
  return [
    ['MariaDB direct', await connectDirect()],
    ['shardgate transaction', await fx.connect({ multipleStatements: true })],
    ['shardgate session', await fx.connect({ multipleStatements: true, port: sessionProxy.mysql!.port })],
  ];
}

/** What mysql2 hands the application: rows (or OK headers) and each field as it inspects it. */
async function answer(c: mysql.Connection, how: 'query' | 'execute', sql: string): Promise<unknown> {
  const [rows, fields] = how === 'query' ? await c.query(sql) : await c.execute(sql);
  const field = (f: unknown): unknown => {
    if (Array.isArray(f)) return f.map(field);
    if (f === undefined) return null;
    // columnLength is the display width, which the server varies by version (mysql2 drops it too).
    const { columnLength: _width, ...rest } = (f as { inspect(): Record<string, unknown> }).inspect();
    return rest;
  };
  return JSON.parse(JSON.stringify({ rows, fields: field(fields) }));
}

const MULTI = [
  'SELECT * FROM rs_rows',
  'SET @a = 1; SET @b = 2',
  'SELECT 1; SELECT 2',
  'SET @a = 1; SELECT 1',
  'SELECT 1; SET @a = 1',
  'SELECT * FROM rs_none; SET @a = 1',
  'SET @a = 1; SELECT * FROM rs_rows',
  'SELECT * FROM rs_rows; SELECT * FROM rs_none; SELECT j FROM rs_json',
];

describe('multiple result sets as MariaDB sends them', () => {
  it('multi-statement queries: each result and its MORE_RESULTS status, in the same order', async () => {
    const [direct, ...proxied] = await targets();
    for (const sql of MULTI) {
      const expected = await answer(direct![1], 'query', sql);
      for (const [name, c] of proxied)
        expect({ name, sql, got: await answer(c, 'query', sql) }).toEqual({ name, sql, got: expected });
    }
    // The driver saw several results where the statement has several (not one merged result).
    expect(
      ((await answer(direct![1], 'query', 'SELECT 1; SELECT 2')) as { rows: unknown[] }).rows,
    ).toHaveLength(2);
  });

  it('CALL of a procedure with several result sets, in text and binary protocol', async () => {
    const [direct, ...proxied] = await targets();
    for (const [i, body] of MULTI.entries()) {
      const proc = `rs_proc_${i}`;
      await direct![1].query(
        `DROP PROCEDURE IF EXISTS ${proc}; CREATE PROCEDURE ${proc}() BEGIN ${body}; END`,
      );
      for (const how of ['query', 'execute'] as const) {
        const expected = await answer(direct![1], how, `CALL ${proc}()`);
        for (const [name, c] of proxied) {
          const got = await answer(c, how, `CALL ${proc}()`);
          expect({ name, how, body, got }).toEqual({ name, how, body, got: expected });
        }
      }
    }
  });

  it('a prepared statement whose prepare has no column definitions still gets its fields and rows on execute', async () => {
    const [direct, ...proxied] = await targets();
    // MariaDB answers the prepare of EXPLAIN with no columns; the execute carries them.
    const sql = 'EXPLAIN SELECT 1';
    const expected = await answer(direct![1], 'execute', sql);
    expect((expected as { rows: unknown[] }).rows).toHaveLength(1);
    for (const [name, c] of proxied)
      expect({ name, got: await answer(c, 'execute', sql) }).toEqual({ name, got: expected });
  });

  it('JSON columns carry the same type, charset and flags, so the driver parses them the same way', async () => {
    const [direct, ...proxied] = await targets();
    for (const how of ['query', 'execute'] as const) {
      const expected = await answer(direct![1], how, "SELECT j, JSON_OBJECT('k', 1) AS o FROM rs_json");
      expect((expected as { rows: Array<Record<string, unknown>> }).rows[0]!.j).toEqual({
        a: [1, '\u{1F602}'],
      });
      for (const [name, c] of proxied) {
        const got = await answer(c, how, "SELECT j, JSON_OBJECT('k', 1) AS o FROM rs_json");
        expect({ name, how, got }).toEqual({ name, how, got: expected });
      }
    }
  });
});

describe('wait_timeout set by the client (mysql2 test-server-close)', () => {
  it('closes the idle client with 4031 after the seconds it set, in both pool modes; nothing leaks to the pool', async () => {
    for (const [name, port] of [
      ['shardgate transaction', fx.port],
      ['shardgate session', sessionProxy.mysql!.port],
    ] as const) {
      const c = await fx.connect({ port });
      const closed = new Promise<{ code?: string | number; message: string; fatal?: boolean }>((resolve) =>
        c.on('error', resolve),
      );
      await c.query('SET wait_timeout = 1');
      // No command follows: only the timeout can end this wait (a hang fails on the test's limit).
      // mysql2 puts an unsolicited error's errno in `code`, as test-server-close reads it.
      const err = await closed;
      expect({ name, code: Number(err.code), fatal: err.fatal, message: err.message }).toEqual({
        name,
        code: 4031,
        fatal: true,
        message:
          'The client was disconnected by the server because of inactivity. See wait_timeout and interactive_timeout for configuring this behavior.',
      });
      // The next client of that pool gets a working connection with the server's own timeout.
      const next = await fx.connect({ port });
      const [rows] = await next.query<mysql.RowDataPacket[]>('SELECT @@wait_timeout AS t');
      expect(Number(rows[0]!.t)).toBeGreaterThan(1);
    }
  }, 60_000);
});
