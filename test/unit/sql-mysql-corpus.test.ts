// Table-driven corpus of MySQL/MariaDB statements through MysqlQueryAnalyzer: sysbench's OLTP
// statements, driver connection preambles (mysql CLI, mysql2, Connector/J), the statements
// node-sql-parser cannot parse, and the session-pinning cases ProxySQL knows. Each row states
// the facts that matter for routing; values are resolved against the text's literals and the
// placeholders' values, so a wrong literal index fails the row.
import { describe, expect, it } from 'vitest';
import { resolveValue } from '../../src/sql/analyzer.js';
import type { StatementFacts } from '../../src/sql/facts.js';
import { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';

const analyzer = new MysqlQueryAnalyzer({ cacheSize: 1000 });
const PARAMS = ['p1', 'p2', 'p3', 'p4', 'p5'];

/** The routing-relevant facts of the text's first statement, values resolved. */
function summarize(sql: string) {
  const a = analyzer.analyze(sql);
  const s: StatementFacts = a.facts.statements[0]!;
  const value = (v: Parameters<typeof resolveValue>[0] | null) =>
    v === null ? null : resolveValue(v, a.literals, PARAMS);
  return {
    statements: a.facts.statements.length,
    kind: s.kind,
    tables: s.tables,
    writeTables: s.writeTables,
    keys: s.keyConditions.map((k) => `${k.table}.${k.column}=${k.values.map(value).join('|')}`),
    pins: s.pinsSession,
    locking: s.locking,
    parsed: s.parseError === null,
    session: s.session,
    transaction: s.transaction,
    utility: s.utility,
    shardgate: s.shardgate,
    functions: s.functions,
    insert: s.insert && {
      table: s.insert.table,
      columns: s.insert.columns,
      rows: s.insert.rows.map((r) => r.map(value)),
      fromSelect: s.insert.fromSelect,
      onConflict: s.insert.onConflict,
      returning: s.insert.returning,
    },
    select: s.select && {
      outputs: s.select.outputs.map(
        (o) => `${o.name}${o.aggregate ? `:${o.aggregate}` : ''}${o.aggregateDistinct ? ':distinct' : ''}`,
      ),
      orderBy: s.select.orderBy.map(
        (o) => `${o.position}${o.desc ? ' desc' : ''}${o.nullsFirst ? ' nf' : ''}`,
      ),
      groupBy: s.select.groupBy,
      limit: value(s.select.limit),
      offset: value(s.select.offset),
      distinct: s.select.distinct,
      unmergeable: s.select.unmergeable,
      nested: s.select.nested?.map((n) => n.keys) ?? [],
      program: s.select.programColumns ?? null,
    },
  };
}

type Row = [sql: string, expected: Record<string, unknown>];

const read = (tables: string[], keys: string[] = []) => ({
  kind: 'read',
  tables,
  keys,
  pins: false,
  parsed: true,
});
const write = (tables: string[], writeTables: string[], keys: string[] = []) => ({
  kind: 'write',
  tables,
  writeTables,
  keys,
  pins: false,
});
const setting = (name: string, value: string | null, extra: Record<string, unknown> = {}) => ({
  kind: 'session',
  session: { action: 'set', name, value, local: false },
  pins: false,
  ...extra,
});
const txn = (action: string, readOnly = false) => ({
  kind: 'transaction',
  transaction: { action, readOnly },
});
const show = (name: string) => ({
  kind: 'session',
  session: { action: 'show', name, value: null, local: false },
});

const SYSBENCH: Row[] = [
  [
    'SELECT c FROM sbtest1 WHERE id=?',
    { ...read(['sbtest1'], ['sbtest1.id=p1']), select: { outputs: ['c'] } },
  ],
  ['SELECT c FROM sbtest7 WHERE id=4711', read(['sbtest7'], ['sbtest7.id=4711'])],
  ['SELECT c FROM sbtest1 WHERE id BETWEEN ? AND ?', read(['sbtest1'])],
  [
    'SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN ? AND ?',
    { ...read(['sbtest1']), select: { outputs: ['sum:sum'], unmergeable: null } },
  ],
  [
    'SELECT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c',
    { ...read(['sbtest1']), select: { orderBy: ['1 nf'] } },
  ],
  [
    'SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c',
    { ...read(['sbtest1']), select: { distinct: true, orderBy: ['1 nf'] } },
  ],
  ['UPDATE sbtest1 SET k=k+1 WHERE id=?', write(['sbtest1'], ['sbtest1'], ['sbtest1.id=p1'])],
  ['UPDATE sbtest1 SET c=? WHERE id=?', write(['sbtest1'], ['sbtest1'], ['sbtest1.id=p2'])],
  ['DELETE FROM sbtest1 WHERE id=?', write(['sbtest1'], ['sbtest1'], ['sbtest1.id=p1'])],
  [
    'INSERT INTO sbtest1 (id, k, c, pad) VALUES (?, ?, ?, ?)',
    {
      ...write(['sbtest1'], ['sbtest1']),
      insert: {
        table: 'sbtest1',
        columns: ['id', 'k', 'c', 'pad'],
        rows: [['p1', 'p2', 'p3', 'p4']],
        fromSelect: false,
      },
    },
  ],
  [
    "INSERT INTO sbtest1 (id, k, c, pad) VALUES (7, 3, 'c-c', 'pad')",
    { insert: { rows: [['7', '3', 'c-c', 'pad']] } },
  ],
];

const PREAMBLES: Row[] = [
  ['SELECT @@version_comment LIMIT 1', { ...read([]), select: { limit: '1' } }],
  ['select @@version_comment limit 1', read([])],
  ['SELECT DATABASE()', { ...read([]), functions: ['database'] }],
  ['SET NAMES utf8mb4', setting('names', 'utf8mb4')],
  [
    "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_general_ci'",
    setting('names', "'utf8mb4' COLLATE 'utf8mb4_general_ci'"),
  ],
  ['SET NAMES DEFAULT', { kind: 'session', session: { action: 'reset', name: 'names' } }],
  ['SET CHARACTER SET utf8mb4', setting('character set', 'utf8mb4')],
  ['SET autocommit=1', setting('autocommit', '1')],
  ['SET autocommit = 0', { ...setting('autocommit', '0'), pins: true }],
  ["SHOW VARIABLES LIKE 'sql_mode'", show('variables')],
  ["SHOW SESSION VARIABLES LIKE 'lower_case_table_names'", show('variables')],
  ['SHOW WARNINGS', show('warnings')],
  ['SET character_set_results = NULL', setting('character_set_results', 'NULL')],
  [
    "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'",
    setting('sql_mode', "'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'"),
  ],
  ["SET @@session.time_zone = '+00:00'", setting('time_zone', "'+00:00'")],
  ['SET @@SESSION.wait_timeout = 28800', setting('wait_timeout', '28800')],
  [
    'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
    setting('transaction', 'ISOLATION LEVEL READ COMMITTED'),
  ],
  [
    'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ',
    { kind: 'session', session: { action: 'set', name: 'transaction', local: true } },
  ],
  [
    '/* mysql-connector-java-8.0.33 */SELECT @@session.auto_increment_increment AS auto_increment_increment, @@character_set_client AS character_set_client, @@transaction_isolation AS transaction_isolation',
    {
      ...read([]),
      select: { outputs: ['auto_increment_increment', 'character_set_client', 'transaction_isolation'] },
    },
  ],
  ['/*!40101 SET NAMES utf8 */', setting('names', 'utf8')],
  ['/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */', { kind: 'session', pins: true }],
  ['SELECT CONNECTION_ID()', read([])],
  ['USE shop', setting('database', 'shop')],
  ['USE `Shop-2`', setting('database', 'Shop-2')],
  ['SHOW DATABASES', show('databases')],
  ['SHOW FULL TABLES FROM shop', show('tables')],
];

/** Statements node-sql-parser rejects (measured) and MariaDB-isms: still classified. */
const PARSER_GAPS: Row[] = [
  [
    "INSERT INTO users (id, name) VALUES (1, 'a') AS new ON DUPLICATE KEY UPDATE name = new.name",
    {
      ...write(['users'], ['users']),
      insert: {
        table: 'users',
        columns: ['id', 'name'],
        rows: [['1', 'a']],
        onConflict: true,
        fromSelect: false,
      },
    },
  ],
  [
    'INSERT INTO users (id, name) VALUES (?, ?) AS n(i, m) ON DUPLICATE KEY UPDATE name = m',
    { insert: { rows: [['p1', 'p2']], onConflict: true } },
  ],
  [
    'UPDATE users SET n = n + 1 WHERE id = 5 ORDER BY id LIMIT 1',
    write(['users'], ['users'], ['users.id=5']),
  ],
  ['DELETE LOW_PRIORITY QUICK FROM users WHERE id = 9 LIMIT 1', write(['users'], ['users'], ['users.id=9'])],
  [
    'UPDATE LOW_PRIORITY IGNORE users SET a = 1 WHERE id IN (1, 2)',
    write(['users'], ['users'], ['users.id=1|2']),
  ],
  [
    'INSERT INTO t (a, b) VALUES (DEFAULT, 1), (2, NOW())',
    {
      insert: {
        columns: ['a', 'b'],
        rows: [
          [null, '1'],
          ['2', null],
        ],
      },
    },
  ],
  ['SELECT * FROM t WHERE k = 1 FOR SHARE', { kind: 'write', locking: true, keys: ['t.k=1'] }],
  ['SELECT * FROM t WHERE k = 1 FOR UPDATE SKIP LOCKED', { kind: 'write', locking: true }],
  ['SELECT * FROM t FORCE INDEX (ix_k) WHERE k = 3', read(['t'], ['t.k=3'])],
  ['SELECT HIGH_PRIORITY STRAIGHT_JOIN a FROM t WHERE k = 3', read(['t'], ['t.k=3'])],
  ['SELECT * FROM t PARTITION (p0, p1) WHERE k = 4', read(['t'], ['t.k=4'])],
  ['SELECT * FROM t WHERE a <=> NULL AND k = 2', read(['t'], ['t.k=2'])],
  [
    'INSERT INTO t (a) VALUES (1) RETURNING id',
    { kind: 'write', insert: { table: 't', rows: [['1']], returning: true } },
  ],
  ['DELETE FROM t WHERE id = 3 RETURNING id', write(['t'], ['t'], ['t.id=3'])],
  [
    "SELECT * FROM t WHERE s = _utf8mb4'x' COLLATE utf8mb4_bin AND id = 6",
    { kind: 'read', keys: ['t.s=x', 't.id=6'] },
  ],
  ['SELECT * FROM t WHERE id = 1 INTERSECT SELECT * FROM u', { kind: 'read', tables: ['t', 'u'] }],
];

const DATA: Row[] = [
  ["SELECT `c` FROM `db1`.`Users` AS s WHERE s.`id` = 'x\\'y'", read(['users'], ["users.id=x'y"])],
  [
    'SELECT * FROM users u JOIN posts p ON p.user_id = u.user_id WHERE u.user_id = 7 LIMIT 10, 5',
    {
      ...read(['posts', 'users'], ['users.user_id=7', 'posts.user_id=7']),
      select: { limit: '5', offset: '10' },
    },
  ],
  [
    'SELECT * FROM users WHERE user_id IN (1, 2, 3) LIMIT 5 OFFSET 10',
    { keys: ['users.user_id=1|2|3'], select: { limit: '5', offset: '10' } },
  ],
  ['SELECT * FROM t LIMIT ?, ?', { select: { limit: 'p2', offset: 'p1' } }],
  ['SELECT * FROM t LIMIT ? OFFSET ?', { select: { limit: 'p1', offset: 'p2' } }],
  ['SELECT * FROM t WHERE id = -5', read(['t'], ['t.id=-5'])],
  ['SELECT * FROM db1.users WHERE db1.users.id = 3', read(['users'], ['users.id=3'])],
  [
    'SELECT * FROM `db1`.`users` x WHERE `x`.`id` = 3 AND `db1`.`users`.k = 4',
    read(['users'], ['users.id=3']),
  ],
  ['SELECT * FROM t WHERE id = - 5 AND flag = TRUE', read(['t'], ['t.id=-5', 't.flag=1'])],
  ['SELECT * FROM t WHERE k = 1 AND (a = 2 OR b = 3)', read(['t'], ['t.k=1'])],
  ['SELECT * FROM t WHERE k = 1 OR k = 2', read(['t'], [])],
  ['SELECT * FROM t WHERE x IN (SELECT k FROM u WHERE k = 1)', read(['t', 'u'], [])],
  ['SELECT * FROM t1, t2 WHERE t1.id = t2.id AND t1.id = 4', read(['t1', 't2'], ['t1.id=4', 't2.id=4'])],
  ['SELECT * FROM posts p LEFT JOIN users u ON u.user_id = 3', read(['posts', 'users'], [])],
  ['SELECT * FROM a, b WHERE k = 1', read(['a', 'b'], ['a.k=1', 'b.k=1'])],
  ['SELECT t.* FROM t WHERE t.id = 1', { ...read(['t'], ['t.id=1']), select: { outputs: ['*'] } }],
  ["SELECT * FROM t WHERE a = \"dq\" AND b = 'it''s'", read(['t'], ['t.a=dq', "t.b=it's"])],
  ["SELECT * FROM t WHERE a = 'multi' 'part'", read(['t'], ['t.a=multipart'])],
  ["SELECT * FROM t WHERE id = x'1F' AND b = 0x2a", read(['t'], ['t.id=1F', 't.b=2a'])],
  ['WITH c AS (SELECT * FROM t WHERE id = 1) SELECT * FROM c', read(['t'], [])],
  [
    'SELECT user_id, count(*), avg(score) FROM t GROUP BY user_id ORDER BY 2 DESC',
    {
      select: {
        outputs: ['user_id', 'count:count', 'avg:avg'],
        groupBy: [1],
        orderBy: ['2 desc'],
        unmergeable: null,
      },
    },
  ],
  // The aggregate program (mysql-aggregate-program.ts): the hidden columns each shard appends.
  [
    'SELECT COUNT(DISTINCT a) FROM t',
    {
      select: {
        outputs: ['count:count:distinct'],
        unmergeable: null,
        program: ['count(DISTINCT `a`)', 'JSON_ARRAYAGG(DISTINCT `a`)', 'min(`a`)'],
      },
    },
  ],
  [
    'SELECT a, MIN(b), MAX(b) FROM t GROUP BY a HAVING MIN(b) > 1',
    { select: { unmergeable: null, program: ['min(`b`)', 'max(`b`)'] } },
  ],
  [
    "SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > 'x'",
    { select: { unmergeable: 'a string constant over aggregates' } },
  ],
  [
    'SELECT id, (SELECT count(*) FROM p WHERE p.user_id = t.user_id) AS n FROM t ORDER BY id',
    { select: { unmergeable: 'a subquery over aggregates across shards' } },
  ],
  [
    'SELECT a, count(*) FROM t GROUP BY a HAVING NOT (count(*) > 1 OR 3 >= sum(b))',
    { select: { unmergeable: null } },
  ],
  [
    'SELECT a FROM t UNION SELECT a FROM u',
    { tables: ['t', 'u'], select: { unmergeable: null, outputs: ['a'] } },
  ],
  [
    'SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY a DESC LIMIT 4',
    { select: { unmergeable: null, outputs: ['a'], orderBy: ['1 desc'], limit: '4' } },
  ],
  // Evaluated by the proxy over tagged branch rows (src/executor/set-operations.ts).
  ['SELECT a FROM t INTERSECT SELECT a FROM u', { select: { unmergeable: null } }],
  ['SELECT a FROM t UNION SELECT a FROM u UNION ALL SELECT a FROM v', { select: { unmergeable: null } }],
  [
    'SELECT a, count(*) FROM t GROUP BY a UNION SELECT a, 1 FROM u',
    { select: { unmergeable: 'a UNION branch that groups, deduplicates or windows rows itself' } },
  ],
  [
    "SELECT GROUP_CONCAT(a ORDER BY b DESC SEPARATOR '|') FROM t",
    {
      select: {
        unmergeable: null,
        program: [
          'JSON_ARRAYAGG(CAST(`a` AS CHAR) ORDER BY `b` DESC)',
          'JSON_ARRAYAGG(`b` ORDER BY `b` DESC)',
          'min(`b`)',
        ],
      },
    },
  ],
  [
    'SELECT GROUP_CONCAT(a + 1) FROM t',
    { select: { unmergeable: 'an aggregate argument other than a column' } },
  ],
  [
    'SELECT avg(1.0 / (id + 1)) FROM t',
    {
      select: {
        unmergeable:
          "avg() of a division across shards (MySQL rounds each shard's partial sum to the quotient's scale; cast the argument, e.g. CAST(a / b AS DECIMAL(30, 10)))",
      },
    },
  ],
  [
    'SELECT a, count(*) FROM t GROUP BY a WITH ROLLUP',
    { select: { unmergeable: 'GROUP BY ... WITH ROLLUP' } },
  ],
  ['SELECT a, sum(b) + 1 FROM t GROUP BY a', { select: { unmergeable: null, program: ['sum(`b`)'] } }],
  // Windows: per shard when partitioned by the shard key (the planner checks the keys).
  ['SELECT a, row_number() OVER (ORDER BY a) FROM t', { select: { unmergeable: null, nested: [[]] } }],
  [
    'SELECT user_id, rank() OVER w AS r FROM c WINDOW w AS (PARTITION BY c.user_id ORDER BY id) ORDER BY user_id LIMIT 5',
    { select: { unmergeable: null, nested: [['user_id']], orderBy: ['1 nf'], limit: '5' } },
  ],
  [
    'SELECT sum(x) OVER (PARTITION BY k), row_number() OVER w FROM c WINDOW w AS (PARTITION BY user_id, k)',
    { select: { unmergeable: null, nested: [['k'], ['user_id', 'k']] } },
  ],
  [
    'SELECT user_id, count(*), rank() OVER (PARTITION BY user_id) FROM c GROUP BY user_id',
    { select: { unmergeable: 'window functions over grouped rows' } },
  ],
  ['SELECT a AS x, b FROM t ORDER BY x DESC, 2', { select: { orderBy: ['1 desc', '2 nf'] } }],
  [
    'SELECT * FROM t WHERE DATE(created) = CURDATE() - INTERVAL 1 DAY',
    { ...read(['t']), functions: ['curdate', 'date'] },
  ],
  ["SELECT JSON_EXTRACT(doc, '$.a') FROM t WHERE doc->>'$.k' = 'v' AND id = 2", read(['t'], ['t.id=2'])],
  [
    'SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id) AND t.id = 8',
    read(['t', 'u'], ['t.id=8']),
  ],
  [
    '(SELECT a FROM t WHERE id = 1) UNION ALL (SELECT a FROM u WHERE id = 2)',
    { kind: 'read', tables: ['t', 'u'] },
  ],
  ['SELECT a INTO @x FROM t WHERE id = 1', { kind: 'read', pins: true, select: null }],
  ["SELECT * FROM t INTO OUTFILE '/tmp/t.csv'", { kind: 'write', select: null }],
  ['SELECT 1', read([])],
  ['SELECT NOW(), UUID()', { ...read([]), functions: ['now', 'uuid'] }],
  [
    "INSERT INTO t (a, b) VALUES (1, 'x'), (2, ?) ON DUPLICATE KEY UPDATE b = VALUES(b)",
    {
      insert: {
        table: 't',
        rows: [
          ['1', 'x'],
          ['2', 'p1'],
        ],
        onConflict: true,
      },
    },
  ],
  [
    'INSERT INTO db2.t (a, b) SELECT a, b FROM u WHERE a = 1',
    { ...write(['t', 'u'], ['t']), insert: { table: 't', columns: ['a', 'b'], rows: [], fromSelect: true } },
  ],
  ['INSERT IGNORE INTO t (a) VALUES (1)', { insert: { onConflict: true } }],
  [
    'INSERT INTO t SET a = 1, b = ?',
    { insert: { columns: ['a', 'b'], rows: [['1', 'p1']], fromSelect: false } },
  ],
  [
    'INSERT INTO t VALUES (1, 2), (3, -4)',
    {
      insert: {
        columns: [],
        rows: [
          ['1', '2'],
          ['3', '-4'],
        ],
      },
    },
  ],
  [
    'REPLACE INTO t (a, b) VALUES (1, 2)',
    { ...write(['t'], ['t']), insert: { onConflict: true, rows: [['1', '2']] } },
  ],
  [
    'UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.b WHERE t1.id = 3',
    write(['t1', 't2'], ['t1'], ['t1.id=3', 't2.id=3']),
  ],
  ['UPDATE t1, t2 SET t1.a = 1, t2.b = 2 WHERE t1.id = t2.id', write(['t1', 't2'], ['t1', 't2'])],
  [
    'DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t2.id = 3',
    write(['t1', 't2'], ['t1'], ['t2.id=3', 't1.id=3']),
  ],
  ['DELETE FROM t WHERE k = 2 ORDER BY id LIMIT 1', write(['t'], ['t'], ['t.k=2'])],
  [
    'UPDATE `Shop`.`Orders` o SET o.state = ? WHERE o.order_id = ?',
    write(['orders'], ['orders'], ['orders.order_id=p2']),
  ],
];

const PINNING: Row[] = [
  ['SET @x = 1', { kind: 'session', session: { name: '@x', value: '1' }, pins: true }],
  ["SELECT GET_LOCK('a', 10)", { kind: 'read', pins: true }],
  ["SELECT RELEASE_LOCK('a')", { pins: true }],
  ['SELECT LAST_INSERT_ID()', { kind: 'read', pins: true }],
  ['SELECT FOUND_ROWS()', { kind: 'read', pins: true }],
  [
    'SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10',
    { pins: true, select: { unmergeable: 'SQL_CALC_FOUND_ROWS' } },
  ],
  ['SELECT @x := 1', { pins: true }],
  ['SELECT * FROM t WHERE id = @x', { pins: true }],
  ['CREATE TEMPORARY TABLE tmp (id INT)', { kind: 'ddl', tables: ['tmp'], pins: true }],
  ['DROP TEMPORARY TABLE IF EXISTS tmp', { kind: 'ddl', tables: ['tmp'], pins: true }],
  ['LOCK TABLES t WRITE, u AS x READ', { kind: 'utility', utility: 'lock', tables: ['t', 'u'], pins: true }],
  ['FLUSH TABLES WITH READ LOCK', { kind: 'utility', pins: true }],
  ["PREPARE s FROM 'SELECT 1'", { kind: 'utility', utility: 'prepare', pins: true }],
  ['HANDLER t OPEN', { kind: 'utility', pins: true }],
  ["XA START 'x1'", { ...txn('begin'), pins: true }],
  ["XA END 'x1'", { kind: 'utility', pins: true }],
  ["XA PREPARE 'x1'", { ...txn('prepare'), pins: true }],
  ["XA COMMIT 'x1'", { ...txn('commit_prepared'), pins: true }],
  [
    "SET sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES'), sql_auto_is_null = 0",
    { kind: 'session', session: { name: 'sql_mode', value: null }, pins: true },
  ],
  ['SET ROLE admin', { kind: 'utility', pins: true }],
];

const OTHER: Row[] = [
  ['BEGIN', txn('begin')],
  ['BEGIN WORK', txn('begin')],
  ['START TRANSACTION', txn('begin')],
  ['START TRANSACTION READ ONLY', txn('begin', true)],
  ['START TRANSACTION WITH CONSISTENT SNAPSHOT, READ WRITE', txn('begin', false)],
  ['COMMIT', txn('commit')],
  ['COMMIT WORK AND NO CHAIN', txn('commit')],
  ['ROLLBACK', txn('rollback')],
  ['SAVEPOINT s1', txn('savepoint')],
  ['ROLLBACK TO SAVEPOINT s1', txn('rollback_to')],
  ['ROLLBACK WORK TO s1', txn('rollback_to')],
  ['RELEASE SAVEPOINT s1', txn('release')],
  ['SET GLOBAL max_connections = 100', { kind: 'utility', utility: 'other', pins: false }],
  ['SET @@global.read_only = 1', { kind: 'utility' }],
  ['SET wait_timeout = DEFAULT', { kind: 'session', session: { action: 'reset', name: 'wait_timeout' } }],
  ['SHOW CREATE TABLE db.orders', { ...show('create table'), tables: ['orders'] }],
  ['SHOW COLUMNS FROM orders', { ...show('columns'), tables: ['orders'] }],
  ['SHOW FULL PROCESSLIST', show('processlist')],
  ['SHOW ENGINE INNODB STATUS', show('engine innodb status')],
  ['DESCRIBE orders', { ...show('columns'), tables: ['orders'] }],
  [
    'EXPLAIN SELECT * FROM t WHERE id = 1',
    { kind: 'read', utility: 'explain', keys: ['t.id=1'], select: null },
  ],
  ['EXPLAIN UPDATE t SET a = 1 WHERE id = 2', { kind: 'read', utility: 'explain', writeTables: [] }],
  [
    'EXPLAIN ANALYZE UPDATE t SET a = 1 WHERE id = 2',
    { kind: 'write', utility: 'explain', writeTables: ['t'] },
  ],
  [
    "CREATE TABLE orders (id BIGINT PRIMARY KEY AUTO_INCREMENT, c VARCHAR(255) NOT NULL DEFAULT '') ENGINE=InnoDB",
    { kind: 'ddl', tables: ['orders'], pins: false },
  ],
  ['CREATE TABLE IF NOT EXISTS db.t2 LIKE db.t1', { kind: 'ddl', tables: ['t1', 't2'] }],
  [
    'CREATE TABLE t3 AS SELECT * FROM t1 JOIN t2 ON t1.id = t2.id',
    { kind: 'ddl', tables: ['t1', 't2', 't3'] },
  ],
  ['DROP TABLE IF EXISTS t, `db`.`U`', { kind: 'ddl', tables: ['t', 'u'] }],
  ['ALTER TABLE orders ADD COLUMN x INT', { kind: 'ddl', tables: ['orders'] }],
  ['TRUNCATE TABLE orders', { kind: 'ddl', tables: ['orders'] }],
  ['TRUNCATE orders', { kind: 'ddl', tables: ['orders'] }],
  ['CREATE UNIQUE INDEX ix ON orders (a)', { kind: 'ddl', tables: ['orders'] }],
  ['DROP INDEX ix ON orders', { kind: 'ddl', tables: ['orders'] }],
  ['RENAME TABLE a TO b, c TO d', { kind: 'ddl', tables: ['a', 'b', 'c', 'd'] }],
  ["CREATE DEFINER = 'root'@'%' VIEW v AS SELECT * FROM t", { kind: 'ddl', tables: ['t', 'v'], pins: false }],
  ['CREATE DATABASE d', { kind: 'ddl', tables: [] }],
  ["GRANT SELECT ON db.* TO 'u'@'%'", { kind: 'ddl', pins: false }],
  [
    'CREATE TRIGGER trg BEFORE INSERT ON orders FOR EACH ROW BEGIN SET NEW.a = 1; END',
    { statements: 1, kind: 'ddl', tables: ['orders'] },
  ],
  [
    'CREATE PROCEDURE p() BEGIN DECLARE x INT; SELECT 1; IF x THEN SELECT 2; END IF; CASE x WHEN 1 THEN SELECT 3; END CASE; END',
    { statements: 1, kind: 'ddl' },
  ],
  ['BEGIN NOT ATOMIC SELECT 1; SELECT 2; END', { statements: 1, kind: 'utility', utility: 'do' }],
  ['DEALLOCATE PREPARE s', { kind: 'utility', utility: 'deallocate' }],
  ['EXECUTE s USING @a', { kind: 'utility', utility: 'execute' }],
  ['CALL proc(1)', { kind: 'utility', utility: 'call' }],
  ['DO SLEEP(1)', { kind: 'utility', utility: 'do' }],
  ['ANALYZE TABLE orders', { kind: 'utility', utility: 'analyze', tables: ['orders'] }],
  ['OPTIMIZE TABLE orders', { kind: 'utility', tables: ['orders'] }],
  [
    "LOAD DATA LOCAL INFILE '/tmp/x.csv' INTO TABLE orders",
    { kind: 'utility', utility: 'copy_from', writeTables: ['orders'] },
  ],
  ['KILL 12', { kind: 'utility' }],
  ['UNLOCK TABLES', { kind: 'utility', pins: false }],
  ['SET shardgate.vip = on', { kind: 'shardgate', shardgate: { command: 'set', name: 'vip', value: 'on' } }],
  [
    "SET shardgate.consistency = 'strong'",
    { shardgate: { command: 'set', name: 'consistency', value: 'strong' } },
  ],
  ['SET shardgate.vip = DEFAULT', { shardgate: { command: 'reset', name: 'vip' } }],
  ['SHOW shardgate.consistency', { kind: 'shardgate', shardgate: { command: 'show', name: 'consistency' } }],
  ['SHARDGATE SET role = replica', { shardgate: { command: 'set', name: 'role', value: 'replica' } }],
  ['SHARDGATE SHOW role', { shardgate: { command: 'show', name: 'role' } }],
  ['SHARDGATE RESET role', { shardgate: { command: 'reset', name: 'role' } }],
  ['FROBNICATE the database', { kind: 'write', parsed: false }],
  ['', { kind: 'empty' }],
  ['  -- only a comment\n', { kind: 'empty' }],
];

const CORPUS: Row[] = [...SYSBENCH, ...PREAMBLES, ...PARSER_GAPS, ...DATA, ...PINNING, ...OTHER];

describe('MySQL analyzer corpus', () => {
  it('holds at least 80 statements', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(80);
  });
  it.each(CORPUS)('%s', (sql, expected) => {
    expect(summarize(sql)).toMatchObject(expected);
  });
  it('answers a cache hit with the same facts as the miss', () => {
    for (const [sql] of CORPUS) {
      const first = summarize(sql);
      expect(summarize(sql)).toEqual(first);
    }
  });
});
