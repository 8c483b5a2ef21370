// A bulk INSERT past limits.maxStatementTokens is routed by its target table without a full parse
// (postgres.js "big query body"); every other text past the bound keeps STATEMENT_TOO_COMPLEX, and
// so does a bulk INSERT into a sharded table, whose rows would decide the shards.
import { beforeAll, describe, expect, it } from 'vitest';
import { Router } from '../../src/router/router.js';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { demoTopology, routingSession } from '../support/topology-fixture.js';

const maxStatementTokens = 1_000;
let analyzer: QueryAnalyzer;
let router: Router;

beforeAll(async () => {
  analyzer = await QueryAnalyzer.create({ cacheSize: 100, maxStatementTokens });
  const topology = demoTopology();
  router = new Router(analyzer, { view: () => topology });
});

/** `rows` copies of `row` (a function of the row index) after `head`. */
const bulk = (head: string, rows: number, row: (i: number) => string, tail = '') =>
  `${head}${Array.from({ length: rows }, (_, i) => row(i)).join(',')}${tail}`;

/** As postgres.js writes sql`insert into test ${sql(rows)}`: one parameter per value. */
const postgresJsInsert = (table: string, rows: number) =>
  bulk(`insert into ${table} ("x")values`, rows, (i) => `($${i + 1})`);

/** A session whose user may use routing hints. */
const overrider = () => routingSession({ context: { overridesAllowed: true } });
const refused = expect.objectContaining({ code: 'STATEMENT_TOO_COMPLEX' });

describe('bulk INSERT past the token bound', () => {
  it('postgres.js big query body: routed by its table, rows unread, parameters counted', () => {
    const sql = postgresJsInsert('events', 5_000);
    const analyzed = analyzer.analyze(sql);
    const s = analyzed.facts.statements[0]!;
    expect(s.kind).toBe('write');
    expect(s.writeTables).toEqual(['events']);
    expect(s.insert).toMatchObject({ table: 'events', columns: ['x'], rows: [] });
    expect(s.insert?.rowsUnread).toEqual({ maxTokens: maxStatementTokens });
    expect(analyzed.facts.paramCount).toBe(5_000);
    expect(analyzed.statements).toEqual([{ start: 0, end: sql.length }]);
    expect(analyzed.fingerprint).toBe('insert into events ("x") values ($1), ...');
    const bind = { values: [], formats: [], types: [] };
    const plan = router.planExtended(sql, routingSession(), bind)[0]!.plan;
    expect(plan).toMatchObject({ type: 'single', target: { shard: 's0', role: 'primary' } });
    expect(plan.reasons).toContain('bulk insert past limits.maxStatementTokens: rows not read');
  });

  it('rows of constants with quotes, comments, casts and arrays; a trailing ;', () => {
    const row = (i: number) =>
      `(${i}, 'a;b)''c', E'x\\'); y', $q$ ); drop table users; $q$, /* ) ; */ -1.5e-3, NULL, DEFAULT, ` +
      `TRUE, '1'::numeric(10,2), '2024-01-01'::timestamp with time zone, date '2024-01-01', ` +
      `ARRAY[1, -2], '{1,2}'::pg_catalog.int4[] -- ; )\n)`;
    const sql = bulk(
      'INSERT INTO public.events (a, b, c, d, e, f, g, h, i, j, k, l, m) VALUES ',
      100,
      row,
      ';\n',
    );
    const s = analyzer.analyze(sql).facts.statements[0]!;
    expect(s.insert).toMatchObject({
      table: 'events',
      rows: [],
      rowsUnread: { maxTokens: maxStatementTokens },
    });
    const plan = router.planSimple(sql, routingSession())[0]!.plan;
    expect(plan).toMatchObject({ type: 'single', target: { shard: 's0' } });
  });

  it('a shard hint in a comment is read: the unsharded table lives on s0, so shard=s1 is refused', () => {
    const sql = `/* shardgate: shard=s1 */ ${postgresJsInsert('events', 5_000)}`;
    expect(analyzer.analyze(sql).facts.hints.shard).toBe('s1');
    const plan = router.planExtended(sql, overrider(), { values: [], formats: [], types: [] })[0]!.plan;
    expect(plan).toMatchObject({ type: 'error', code: 'ROUTING_OVERRIDE_REFUSED' });
  });

  it("inside a transaction: the transaction's shard", () => {
    const session = routingSession({
      inTransaction: true,
      transactionShard: 's0',
      transactionServer: 's0-primary',
    });
    const plan = router.planSimple(
      bulk('INSERT INTO events (a) VALUES ', 2_000, (i) => `(${i})`),
      session,
    )[0]!.plan;
    expect(plan).toMatchObject({ type: 'single', target: { shard: 's0', server: 's0-primary' } });
  });

  it('a reference table is written on every shard', () => {
    const sql = bulk('INSERT INTO trending_topics (topic) VALUES ', 2_000, (i) => `('t${i}')`);
    const plan = router.planSimple(sql, routingSession())[0]!.plan;
    expect(plan.type).toBe('scatter');
  });

  it('a sharded table keeps the coded refusal (its rows decide the shards)', () => {
    const sql = bulk('INSERT INTO users (user_id, name) VALUES ', 2_000, (i) => `(${i}, 'u')`);
    const plan = router.planSimple(sql, routingSession())[0]!.plan;
    expect(plan).toMatchObject({
      type: 'error',
      code: 'STATEMENT_TOO_COMPLEX',
      params: { max: maxStatementTokens },
    });
    const forced = router.planSimple(`/* shardgate: shard=s1 */ ${sql}`, overrider())[0]!.plan;
    expect(forced).toMatchObject({ type: 'error', code: 'STATEMENT_TOO_COMPLEX' });
  });

  const row = (i: number) => `(${i})`;
  for (const [what, sql] of [
    ['a function call in a row', bulk('INSERT INTO events (a) VALUES ', 2_000, row, ', (now())')],
    [
      'a subquery in a row',
      bulk('INSERT INTO events (a) VALUES ((SELECT max(user_id) FROM users)), ', 2_000, row),
    ],
    ['a column reference', bulk('INSERT INTO events (a) VALUES ', 2_000, row, ', (a)')],
    ['RETURNING', bulk('INSERT INTO events (a) VALUES ', 2_000, row, ' RETURNING a')],
    ['ON CONFLICT', bulk('INSERT INTO events (a) VALUES ', 2_000, row, ' ON CONFLICT DO NOTHING')],
    ['a second statement', bulk('INSERT INTO events (a) VALUES ', 2_000, row, '; DELETE FROM users')],
    ['INSERT ... SELECT', `INSERT INTO events (a) SELECT ${Array(2_000).fill('1').join(' + ')}`],
    ['a WITH in front', bulk('WITH x AS (SELECT 1) INSERT INTO events (a) VALUES ', 2_000, row)],
    ['an alias', bulk('INSERT INTO events AS e (a) VALUES ', 2_000, row)],
    ['an unterminated string', bulk('INSERT INTO events (a) VALUES ', 2_000, row, ", ('x)")],
    ['a plain SELECT', `SELECT ${Array(2_000).fill('1').join(',')}`],
  ] as const) {
    it(`refused with STATEMENT_TOO_COMPLEX: ${what}`, () => {
      expect(() => analyzer.analyze(sql)).toThrow(refused);
    });
  }

  it('with standard_conforming_strings off: refused (the scan reads quotes as standard)', () => {
    const sql = bulk('INSERT INTO events (a) VALUES ', 2_000, row);
    expect(() => analyzer.analyze(sql, { backslashQuotes: true })).toThrow(refused);
  });
});
