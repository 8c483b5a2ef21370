import { beforeAll, describe, expect, it } from 'vitest';
import { type AnalyzedQuery, QueryAnalyzer, resolveValue } from '../../src/sql/analyzer.js';
import type { KeyCondition, StatementFacts } from '../../src/sql/facts.js';
import { statementTexts } from '../support/statement-texts.js';
import { expectSessionValuesUncached } from '../support/unit-analyzer-cache.js';

let analyzer: QueryAnalyzer;
beforeAll(async () => {
  analyzer = await QueryAnalyzer.create({ cacheSize: 500 });
});

const one = (sql: string): StatementFacts => {
  const a = analyzer.analyze(sql);
  expect(a.facts.statements).toHaveLength(1);
  return a.facts.statements[0]!;
};

/** Key conditions with their values resolved against the text's literals and these params. */
function keys(a: AnalyzedQuery, params: string[] = []) {
  return a.facts.statements[0]!.keyConditions.map((k: KeyCondition) => ({
    table: k.table,
    column: k.column,
    values: k.values.map((v) => resolveValue(v, a.literals, params)),
    ...(k.arrayParam ? { arrayParam: k.arrayParam } : {}),
  }));
}

describe('key conditions', () => {
  it('literal, parameter, IN, ANY, casts', () => {
    expect(keys(analyzer.analyze('SELECT * FROM users WHERE user_id = 42'))).toEqual([
      { table: 'users', column: 'user_id', values: ['42'] },
    ]);
    expect(keys(analyzer.analyze('SELECT * FROM users WHERE user_id = $1'), ['9'])).toEqual([
      { table: 'users', column: 'user_id', values: ['9'] },
    ]);
    expect(keys(analyzer.analyze('SELECT * FROM users WHERE user_id IN (1,2,3)'))).toEqual([
      { table: 'users', column: 'user_id', values: ['1', '2', '3'] },
    ]);
    expect(keys(analyzer.analyze('SELECT * FROM users WHERE user_id = ANY($1)'))).toEqual([
      { table: 'users', column: 'user_id', values: [], arrayParam: 1 },
    ]);
    expect(
      keys(analyzer.analyze('SELECT * FROM users WHERE user_id = ANY(ARRAY[4, $2])'), ['x', '5']),
    ).toEqual([{ table: 'users', column: 'user_id', values: ['4', '5'] }]);
    expect(
      keys(analyzer.analyze("SELECT * FROM users WHERE user_id = '42'::bigint AND 7 = users.org_id")),
    ).toEqual([
      { table: 'users', column: 'user_id', values: ['42'] },
      { table: 'users', column: 'org_id', values: ['7'] },
    ]);
    expect(keys(analyzer.analyze('SELECT * FROM users WHERE user_id::text = $1::text'), ['3'])).toEqual([
      { table: 'users', column: 'user_id', values: ['3'] },
    ]);
  });
  it('negative literals (folded by the grammar at the minus sign)', () => {
    expect(keys(analyzer.analyze('SELECT * FROM t WHERE k = -5'))[0]!.values).toEqual(['-5']);
    expect(keys(analyzer.analyze('SELECT * FROM t WHERE k = - 6'))[0]!.values).toEqual(['-6']);
    expect(keys(analyzer.analyze('SELECT * FROM t WHERE k IN (-1, 2, -3.5)'))[0]!.values).toEqual([
      '-1',
      '2',
      '-3.5',
    ]);
  });
  it('ignores OR, inequalities and conditions in subqueries', () => {
    expect(one('SELECT * FROM t WHERE k = 1 OR k = 2').keyConditions).toEqual([]);
    expect(one('SELECT * FROM t WHERE k > 1 AND k <> 3').keyConditions).toEqual([]);
    expect(one('SELECT * FROM t WHERE x IN (SELECT k FROM u WHERE k = 1)').keyConditions).toEqual([]);
    expect(one('SELECT * FROM t WHERE k = a + 1').keyConditions).toEqual([]);
  });
  it('resolves aliases through joins and propagates join equalities', () => {
    const a = analyzer.analyze(
      'SELECT * FROM posts p JOIN users u ON u.user_id = p.user_id WHERE p.user_id = 7',
    );
    expect(keys(a)).toEqual([
      { table: 'posts', column: 'user_id', values: ['7'] },
      { table: 'users', column: 'user_id', values: ['7'] },
    ]);
    expect(a.facts.statements[0]!.tables).toEqual(['posts', 'users']);
    // Outer join ON clauses do not restrict both sides.
    expect(keys(analyzer.analyze('SELECT * FROM posts p LEFT JOIN users u ON u.user_id = 3'))).toEqual([]);
    // Unqualified columns with several tables: one candidate per table (see pg-key-conditions.ts).
    expect(keys(analyzer.analyze('SELECT * FROM a, b WHERE k = 1')).map((k) => k.table)).toEqual(['a', 'b']);
    // Schema-qualified names are stripped; subquery aliases never resolve to a table.
    expect(
      keys(analyzer.analyze('SELECT * FROM app.users x, (SELECT 1) s WHERE x.id = 1 AND s.id = 2')),
    ).toEqual([{ table: 'users', column: 'id', values: ['1'] }]);
  });
  it('UPDATE and DELETE targets with aliases', () => {
    const u = analyzer.analyze('UPDATE users AS u SET name = $2 WHERE u.user_id = 5');
    expect(u.facts.statements[0]).toMatchObject({ kind: 'write', tables: ['users'], writeTables: ['users'] });
    expect(keys(u)).toEqual([{ table: 'users', column: 'user_id', values: ['5'] }]);
    const d = analyzer.analyze(
      'DELETE FROM s.posts USING users WHERE posts.user_id = users.user_id AND users.user_id = $1',
    );
    expect(d.facts.statements[0]).toMatchObject({
      kind: 'write',
      tables: ['posts', 'users'],
      writeTables: ['posts'],
    });
    expect(keys(d, ['8']).map((k) => `${k.table}=${k.values}`)).toEqual(['users=8', 'posts=8']);
  });
});

describe('statement kinds', () => {
  it('reads and locking reads', () => {
    expect(one('SELECT * FROM t').kind).toBe('read');
    expect(one('SELECT * FROM t FOR UPDATE SKIP LOCKED')).toMatchObject({ kind: 'write', locking: true });
    expect(one('SELECT * FROM (SELECT * FROM t FOR SHARE) x').kind).toBe('write');
    expect(one('WITH c AS (SELECT * FROM t FOR NO KEY UPDATE) SELECT * FROM c').kind).toBe('write');
    expect(one('SELECT * FROM t WHERE id IN (SELECT id FROM u FOR KEY SHARE)').kind).toBe('write');
  });
  it('CTEs: modifying ones are writes, CTE names are not tables', () => {
    const f = one(
      'WITH x AS (DELETE FROM jobs WHERE id = 1 RETURNING *) SELECT * FROM x JOIN logs l ON true',
    );
    expect(f).toMatchObject({
      kind: 'write',
      modifyingCte: true,
      tables: ['jobs', 'logs'],
      writeTables: ['jobs'],
    });
    const r = one('WITH recent AS (SELECT * FROM posts) SELECT * FROM recent r WHERE r.user_id = 3');
    expect(r).toMatchObject({ kind: 'read', tables: ['posts'], keyConditions: [] });
  });
  it('functions anywhere; nextval keeps a SELECT a read (the router applies write functions)', () => {
    expect(one("SELECT nextval('s')")).toMatchObject({ kind: 'read', functions: ['nextval'] });
    expect(one('SELECT lower(name) FROM t WHERE id = (SELECT max(x) FROM pg_catalog.u)').functions).toEqual([
      'lower',
      'max',
    ]);
  });
  it('INSERT shapes', () => {
    const a = analyzer.analyze('INSERT INTO posts (id, user_id) VALUES (1, 10), (2, 20)');
    const f = a.facts.statements[0]!;
    expect(f).toMatchObject({ kind: 'write', tables: ['posts'], writeTables: ['posts'] });
    expect(f.insert).toMatchObject({ table: 'posts', columns: ['id', 'user_id'], fromSelect: false });
    expect(f.insert!.rows.map((r) => r.map((v) => (v ? resolveValue(v, a.literals, []) : null)))).toEqual([
      ['1', '10'],
      ['2', '20'],
    ]);
    const g = one(
      'INSERT INTO app.posts AS p VALUES ($1, DEFAULT, now()) ON CONFLICT (id) DO NOTHING RETURNING id',
    );
    expect(g.insert).toMatchObject({ table: 'posts', columns: [], onConflict: true, returning: true });
    expect(g.insert!.rows).toEqual([[{ kind: 'param', index: 1 }, null, null]]);
    const s = one('INSERT INTO archive SELECT * FROM posts WHERE user_id = 1');
    expect(s.insert).toMatchObject({ fromSelect: true, rows: [] });
    expect(s.tables).toEqual(['archive', 'posts']);
    expect(s.writeTables).toEqual(['archive']);
  });
  it('DDL, temp tables and session pinning', () => {
    expect(one('CREATE TABLE t (id int)')).toMatchObject({ kind: 'ddl', tables: ['t'], pinsSession: false });
    expect(one('CREATE TEMP TABLE t (id int)')).toMatchObject({ kind: 'ddl', pinsSession: true });
    expect(one('CREATE TEMPORARY TABLE t AS SELECT 1')).toMatchObject({ kind: 'ddl', pinsSession: true });
    expect(one('SELECT 1 INTO TEMP x')).toMatchObject({ kind: 'ddl', pinsSession: true });
    expect(one('DROP TABLE a, s.b').tables).toEqual(['a', 'b']);
    expect(one('ALTER TABLE users ADD COLUMN x int')).toMatchObject({ kind: 'ddl', tables: ['users'] });
    expect(one('TRUNCATE posts')).toMatchObject({ kind: 'ddl', tables: ['posts'] });
    expect(one('SELECT pg_advisory_lock(1)').pinsSession).toBe(true);
    expect(one('SELECT pg_advisory_xact_lock(1)').pinsSession).toBe(false);
    expect(one('LISTEN ch')).toMatchObject({ kind: 'utility', utility: 'listen', pinsSession: true });
    expect(one('PREPARE p AS SELECT 1')).toMatchObject({ utility: 'prepare', pinsSession: true });
    expect(one('DECLARE c CURSOR WITH HOLD FOR SELECT 1')).toMatchObject({
      utility: 'declare_cursor',
      pinsSession: true,
    });
    expect(one('DECLARE c CURSOR FOR SELECT 1').pinsSession).toBe(false);
    expect(one('SET ROLE bob')).toMatchObject({ kind: 'session', pinsSession: false });
  });
  it('utilities', () => {
    const cases: Array<[string, string]> = [
      ['UNLISTEN *', 'unlisten'],
      ["NOTIFY ch, 'x'", 'notify'],
      ['COPY t FROM STDIN', 'copy_from'],
      ['COPY (SELECT * FROM t WHERE k = 1) TO STDOUT', 'copy_to'],
      ['VACUUM t', 'vacuum'],
      ['ANALYZE t', 'analyze'],
      ['LOCK TABLE t IN SHARE MODE', 'lock'],
      ['EXECUTE p(1)', 'execute'],
      ['DEALLOCATE ALL', 'deallocate'],
      ['FETCH 10 FROM c', 'fetch'],
      ['CLOSE c', 'close_cursor'],
      ['DO $$ BEGIN PERFORM 1; END $$', 'do'],
      ['CALL p(1)', 'call'],
      ['CHECKPOINT', 'checkpoint'],
    ];
    for (const [sql, utility] of cases) expect(one(sql), sql).toMatchObject({ kind: 'utility', utility });
    expect(one('COPY t FROM STDIN')).toMatchObject({ tables: ['t'], writeTables: ['t'] });
    expect(one('COPY (SELECT * FROM t) TO STDOUT')).toMatchObject({ tables: ['t'], writeTables: [] });
  });
  it('EXPLAIN analyzes the inner statement', () => {
    const e = one('EXPLAIN SELECT * FROM users WHERE user_id = 1');
    expect(e).toMatchObject({ kind: 'read', utility: 'explain', tables: ['users'], select: null });
    expect(e.keyConditions).toHaveLength(1);
    expect(one('EXPLAIN DELETE FROM t WHERE k = 1')).toMatchObject({ kind: 'read', writeTables: [] });
    expect(one('EXPLAIN ANALYZE DELETE FROM t')).toMatchObject({ kind: 'write', writeTables: ['t'] });
    expect(one('EXPLAIN (ANALYZE false) DELETE FROM t').kind).toBe('read');
    expect(one('EXPLAIN INSERT INTO t VALUES (1), (2)').insert).toBeNull();
  });
  it('transactions', () => {
    expect(one('BEGIN').transaction).toEqual({ action: 'begin', readOnly: false });
    expect(one('BEGIN READ ONLY').transaction).toEqual({ action: 'begin', readOnly: true });
    expect(one('BEGIN READ WRITE').transaction).toEqual({ action: 'begin', readOnly: false });
    expect(one('START TRANSACTION ISOLATION LEVEL SERIALIZABLE READ ONLY').transaction).toEqual({
      action: 'begin',
      readOnly: true,
    });
    const actions: Array<[string, string]> = [
      ['COMMIT', 'commit'],
      ['END', 'commit'],
      ['ROLLBACK', 'rollback'],
      ['SAVEPOINT a', 'savepoint'],
      ['RELEASE SAVEPOINT a', 'release'],
      ['ROLLBACK TO SAVEPOINT a', 'rollback_to'],
      ["PREPARE TRANSACTION 'g1'", 'prepare'],
      ["COMMIT PREPARED 'g1'", 'commit_prepared'],
      ["ROLLBACK PREPARED 'g1'", 'rollback_prepared'],
    ];
    for (const [sql, action] of actions) expect(one(sql).transaction?.action, sql).toBe(action);
  });
  it('session statements', () => {
    for (const [sql, action, name, value, local] of [
      ['SET search_path TO a,b', 'set', 'search_path', 'a, b', false],
      ["SET LOCAL statement_timeout = '5s'", 'set', 'statement_timeout', '5s', true],
      ['SHOW work_mem', 'show', 'work_mem', null, false],
    ] as const)
      expect(one(sql).session, sql).toEqual({ action, name, value, local });
    expect(one('SET search_path = "$user", public').session?.value).toBe('"$user", public');
    expect(one('SET work_mem = 64').session?.value).toBe('64');
    expect(one("SET application_name TO 'My App'").session?.value).toBe('My App');
    expect(one("SET TIME ZONE 'UTC'").session).toMatchObject({ name: 'timezone', value: 'UTC' });
    expect(one('SET x.y TO DEFAULT').session).toMatchObject({ action: 'reset', name: 'x.y' });
    expect(one('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE')).toMatchObject({
      session: { local: true },
      pinsSession: false,
    });
    expect(one('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY').pinsSession).toBe(true);
    expect(one('RESET ALL').session).toMatchObject({ action: 'reset', name: 'all' });
    expect(one('RESET search_path').session).toMatchObject({ action: 'reset', name: 'search_path' });
    for (const [sql, name] of [
      ['DISCARD ALL', 'all'],
      ['DISCARD PLANS', 'plans'],
      ['DISCARD TEMP', 'temp'],
      ['DISCARD SEQUENCES', 'sequences'],
    ] as const)
      expect(one(sql).session).toMatchObject({ action: 'discard', name });
  });
  it('shardgate statements', () => {
    expect(one('SET shardgate.vip = on')).toMatchObject({
      kind: 'shardgate',
      shardgate: { command: 'set', name: 'vip', value: 'on' },
    });
    expect(one("SET shardgate.consistency TO 'strong'").shardgate).toEqual({
      command: 'set',
      name: 'consistency',
      value: 'strong',
    });
    expect(one('SHOW shardgate.vip').shardgate).toEqual({ command: 'show', name: 'vip' });
    expect(one('RESET shardgate.vip').shardgate).toEqual({ command: 'reset', name: 'vip' });
    const e = analyzer.analyze('/* c */ shardgate  Explain SELECT * FROM t WHERE id = 1');
    expect(e.facts.statements[0]).toMatchObject({
      kind: 'shardgate',
      shardgate: { command: 'explain', statement: 'SELECT * FROM t WHERE id = 1' },
    });
  });
  it('unparsable text and empty text', () => {
    const f = one('SELEC 1');
    expect(f.kind).toBe('unknown');
    expect(f.parseError).toMatch(/syntax error/);
    expect(one('-- nothing here').kind).toBe('empty');
    expect(one("SELECT 'unterminated").kind).toBe('unknown');
  });
});

describe('select shape', () => {
  it('aggregates, GROUP BY / ORDER BY positions, LIMIT and OFFSET', () => {
    const a = analyzer.analyze('SELECT count(*), avg(x) FROM t GROUP BY 1 ORDER BY 2 DESC LIMIT 5 OFFSET 2');
    const s = a.facts.statements[0]!.select!;
    expect(s.outputs).toEqual([
      { name: 'count', aggregate: 'count' },
      { name: 'avg', aggregate: 'avg' },
    ]);
    expect(s.groupBy).toEqual([1]);
    expect(s.orderBy).toEqual([{ position: 2, name: 'avg', desc: true, nullsFirst: true }]);
    expect(resolveValue(s.limit!, a.literals, [])).toBe('5');
    expect(resolveValue(s.offset!, a.literals, [])).toBe('2');
    expect(s).toMatchObject({ hasAggregates: true, distinct: false, unmergeable: null });
  });
  it('ORDER BY output alias or an expression equal to an output', () => {
    const s = one(
      'SELECT user_id AS u, count(DISTINCT tag) AS n, t.created FROM t ORDER BY n, u DESC NULLS LAST, t.created',
    ).select!;
    expect(s.outputs[1]).toEqual({ name: 'n', aggregate: 'count', aggregateDistinct: true });
    expect(s.orderBy.map((o) => [o.position, o.desc, o.nullsFirst])).toEqual([
      [2, false, false],
      [1, true, false],
      [3, false, false],
    ]);
    expect(one('SELECT a FROM t ORDER BY b').select!.orderBy[0]!.position).toBeNull();
    expect(one('SELECT lower(a) FROM t GROUP BY lower(a)').select!.groupBy).toEqual([1]);
    expect(one('SELECT * FROM t ORDER BY 3').select!.orderBy[0]!.position).toBe(3);
  });
  it('flags what a merge cannot reproduce', () => {
    const cases: Array<[string, RegExp]> = [
      ['WITH x AS (SELECT 1) SELECT a FROM t INTERSECT SELECT a FROM x', /WITH before a set operation/],
      ['SELECT a, count(*), row_number() OVER () FROM t GROUP BY a', /window functions over grouped rows/],
      ['SELECT DISTINCT ON (a + 1) a, b FROM t', /DISTINCT ON an expression/],
      ['SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > a', /HAVING other than/],
      ['SELECT sum(x) + length(max(y)) FROM t', /length\(\) over aggregates/],
      ['SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t', /percentile_cont/],
      ['SELECT string_agg(x, y) FROM t', /delimiter that is not a constant/],
      ['SELECT a FROM t LIMIT 2 + 3', /LIMIT expression/],
      ['SELECT a FROM t ORDER BY a FETCH FIRST 3 ROWS WITH TIES', /WITH TIES/],
    ];
    for (const [sql, re] of cases) expect(one(sql).select?.unmergeable, sql).toMatch(re);
    expect(one('SELECT DISTINCT a FROM t').select).toMatchObject({ distinct: true, unmergeable: null });
    // Aggregates the proxy evaluates from partials (the differential harness proves the values).
    for (const sql of [
      'SELECT sum(x) + 1 FROM t',
      "SELECT string_agg(x, ',' ORDER BY x) FROM t",
      'SELECT count(DISTINCT x) FROM t',
    ])
      expect(one(sql).select, sql).toMatchObject({ unmergeable: null, program: expect.any(Object) });
    // Merged with conditions the planner checks against the shard keys (router-merge-spec.test.ts).
    expect(one('SELECT DISTINCT ON (b) a, b FROM t ORDER BY b, a').select).toMatchObject({
      distinctOn: [2],
      unmergeable: null,
    });
    expect(one('SELECT row_number() OVER (PARTITION BY k) FROM t').select!.nested).toEqual([
      { what: 'a window function not partitioned by the shard key', keys: ['k'] },
    ]);
    expect(one('SELECT count(*)::int AS n FROM t').select!.outputs[0]).toEqual({
      name: 'n',
      aggregate: 'count',
    });
    expect(one('SELECT a FROM t LIMIT ALL').select!.limit).toEqual({ kind: 'const', value: null });
    expect(one('SELECT a FROM t LIMIT $1 OFFSET $2').select).toMatchObject({
      limit: { kind: 'param', index: 1 },
      offset: { kind: 'param', index: 2 },
    });
  });
});

describe('parse cache', () => {
  it('hits with new literal values resolved correctly', () => {
    const local = new QueryAnalyzer({ cacheSize: 10 });
    const a = local.analyze("SELECT * FROM users WHERE user_id = 1 AND name = 'a'");
    const b = local.analyze("select *   from USERS where user_id = 99 and name = 'it''s' -- note");
    expect(a.cacheHit).toBe(false);
    expect(b.cacheHit).toBe(true);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(b.facts.statements).toBe(a.facts.statements);
    expect(keys(b)).toEqual([
      { table: 'users', column: 'user_id', values: ['99'] },
      { table: 'users', column: 'name', values: ["it's"] },
    ]);
    const neg = local.analyze("SELECT * FROM users WHERE user_id = -1 AND name = 'x'");
    const neg2 = local.analyze("SELECT * FROM users WHERE user_id = -7 AND name = 'x'");
    expect(neg2.cacheHit).toBe(true);
    expect(keys(neg2)[0]!.values).toEqual(['-7']);
    expect(neg.fingerprint).not.toBe(a.fingerprint);
    expect(local.stats).toMatchObject({ hits: 2, misses: 2, size: 2 });
  });
  it('ORDER BY positions are part of the shape', () => {
    const local = new QueryAnalyzer({ cacheSize: 10 });
    const a = local.analyze('SELECT a, b FROM t ORDER BY 1');
    const b = local.analyze('SELECT a, b FROM t ORDER BY 2');
    expect(b.cacheHit).toBe(false);
    expect(a.facts.statements[0]!.select!.orderBy[0]!.position).toBe(1);
    expect(b.facts.statements[0]!.select!.orderBy[0]!.position).toBe(2);
  });
  it('does not cache facts that hold values; hints are per text', () => {
    const local = new QueryAnalyzer({ cacheSize: 10 });
    expectSessionValuesUncached(local, ['SET work_mem = 64', '64'], ['SET work_mem = 128', '128']);
    local.analyze('SELECT 1');
    const h = local.analyze('/* shardgate: consistency=strong */ SELECT 2');
    expect(h.cacheHit).toBe(true);
    expect(h.facts.hints).toEqual({ consistency: 'strong' });
    expect(local.analyze('SELECT 3').facts.hints).toEqual({});
  });
  it('multi-statement text: one facts entry and one range per statement', () => {
    const sql = "BEGIN; UPDATE t SET a = 'x;y' WHERE k = 1; COMMIT;";
    const a = analyzer.analyze(sql);
    expect(a.facts.statements.map((s) => s.kind)).toEqual(['transaction', 'write', 'transaction']);
    expect(statementTexts(sql, a.statements)).toEqual([
      'BEGIN',
      "UPDATE t SET a = 'x;y' WHERE k = 1",
      'COMMIT',
    ]);
    expect(keys({ ...a, facts: { ...a.facts, statements: [a.facts.statements[1]!] } })[0]!.values).toEqual([
      '1',
    ]);
  });
});

describe('literal mapping edge cases', () => {
  it('typed literals, E strings, continuations and U& strings map to their literal', () => {
    const a = analyzer.analyze(
      "SELECT * FROM t WHERE d = DATE '2024-01-02' AND e = E'a\\'b' AND c = 'x'\n'y' AND u = U&'d\\0061t' AND h = 0x10",
    );
    expect(keys(a).map((k) => k.values[0])).toEqual(['2024-01-02', "a'b", 'xy', 'dat', '16']);
  });
  it('EXPLAIN is not cached (its options decide the kind)', () => {
    const local = new QueryAnalyzer({ cacheSize: 10 });
    expect(local.analyze('EXPLAIN (ANALYZE 0) DELETE FROM t').facts.statements[0]!.kind).toBe('read');
    const b = local.analyze('EXPLAIN (ANALYZE 1) DELETE FROM t');
    expect(b.cacheHit).toBe(false);
    expect(b.facts.statements[0]!.kind).toBe('write');
  });
});
