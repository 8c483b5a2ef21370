// Golden plans from hand-built facts: (statement, session, topology) -> renderPlan JSON in
// test/golden/plans/<group>.json. Regenerate deliberately with UPDATE_GOLDEN=1.
import { describe, expect, it } from 'vitest';
import type { StatementFacts } from '../../src/sql/facts.js';
import { type GoldenEntry, goldenGroup, renderGroup } from '../support/golden-files.js';
import {
  facts,
  insertPosts,
  keyEq,
  lit,
  type PlanCase,
  param,
  plan,
  readByUser,
  select,
} from '../support/router-facts.js';
import { demoConfig, demoTopology, routingSession } from '../support/topology-fixture.js';

// user_id 1 -> s1, 2 -> s0 (PostgreSQL hashint8extended).
type Case = PlanCase & { statement: string };

/** A session whose user has the routingOverrides permission. */
const overrider = () => routingSession({ context: { overridesAllowed: true } });

const byUser = (table: string, user: string, over: Partial<Case> = {}): Case => ({
  statement: `SELECT * FROM ${table} WHERE user_id = ${user}`,
  facts: readByUser(table),
  literals: [user],
  ...over,
});

const update = (table: string, keyed: boolean): StatementFacts =>
  facts({
    kind: 'write',
    tables: [table],
    writeTables: [table],
    keyConditions: keyed ? [keyEq(table, 'user_id', lit(1))] : [],
  });

const insert = (rows: string[]): Case => ({
  statement: `INSERT INTO posts (id, user_id) VALUES ${rows.map((u, i) => `(${100 + i}, ${u})`).join(', ')}`,
  facts: insertPosts(rows.map((_, i) => [lit(2 * i), lit(2 * i + 1)])),
  literals: rows.flatMap((u, i) => [String(100 + i), u]),
});

const scatter = (statement: string, shape: Parameters<typeof select>[0], literals: string[] = []): Case => ({
  statement,
  facts: facts({ tables: ['likes'], select: select(shape) }),
  literals,
});

const inTx = (shard: string | null, server: string | null = null, readOnly = false) =>
  routingSession({
    inTransaction: true,
    transactionShard: shard,
    transactionServer: server,
    transactionReadOnly: readOnly,
  });

const scatterWriteTables = {
  ...demoConfig().tables,
  likes: { ...demoConfig().tables.likes!, scatterWrites: true },
};

const GROUPS: Record<string, Record<string, Case>> = {
  levels: {
    'strong: users on the primary': byUser('users', '1'),
    'read_your_writes: no write on the shard -> replica': byUser('posts', '1'),
    'read_your_writes: replica replayed the write': byUser('posts', '1', {
      session: routingSession({ lastWritePositions: { s1: '0/3000000' } }),
    }),
    'read_your_writes: replica behind -> wait, else primary': byUser('posts', '1', {
      session: routingSession({ lastWritePositions: { s1: '0/3000100' } }),
    }),
    'read_your_writes: no replica in rotation -> primary': byUser('posts', '1', {
      session: routingSession({ lastWritePositions: { s1: '0/3000100' } }),
      topology: demoTopology({ servers: { 's1-replica1': { healthy: false } } }),
    }),
    'bounded: replica within the bound': byUser('likes', '1', {
      session: routingSession({ context: { consistency: 'bounded' } }),
    }),
    'bounded: lag unknown -> primary': byUser('likes', '1', {
      session: routingSession({ context: { consistency: 'bounded' } }),
      topology: demoTopology({ servers: { 's1-replica1': { lagMs: null } } }),
    }),
    'eventual: least loaded replica': byUser('likes', '2', {
      topology: demoTopology({ replicas: 2, servers: { 's0-replica1': { outstanding: 4 } } }),
    }),
    'eventual: drained replica -> primary': byUser('likes', '2', {
      topology: demoTopology({ servers: { 's0-replica1': { drained: true } } }),
    }),
    'eventual: replica past the hard lag limit -> primary': byUser('likes', '2', {
      topology: demoTopology({ servers: { 's0-replica1': { lagMs: 45_000 } } }),
    }),
    'weak: nearest replica regardless of lag': byUser('temp_data', '2', {
      topology: demoTopology({
        replicas: 2,
        servers: { 's0-replica1': { rttMs: 3 }, 's0-replica2': { rttMs: 1, lagMs: 9_000 } },
      }),
    }),
    'several data types: strongest': {
      statement:
        'SELECT ... FROM likes JOIN posts USING (user_id) WHERE likes.user_id = 1 AND posts.user_id = 1',
      facts: facts({
        tables: ['likes', 'posts'],
        keyConditions: [keyEq('likes', 'user_id', lit(0)), keyEq('posts', 'user_id', lit(1))],
      }),
      literals: ['1', '1'],
    },
  },
  context: {
    'vip: read_your_writes -> strong': byUser('posts', '1', {
      session: routingSession({ context: { vip: true } }),
    }),
    'vip: eventual -> read_your_writes': byUser('likes', '1', {
      session: routingSession({ context: { vip: true } }),
    }),
    'realtime: weak -> strong': byUser('temp_data', '1', {
      session: routingSession({ context: { realtime: true } }),
    }),
    'battery saving: eventual stays eventual': byUser('likes', '1', {
      session: routingSession({ context: { batterySaving: true } }),
    }),
    'battery saving: read_your_writes -> eventual': byUser('posts', '1', {
      session: routingSession({ context: { batterySaving: true } }),
    }),
    'vip + battery saving cancel out': byUser('likes', '1', {
      session: routingSession({ context: { vip: true, batterySaving: true } }),
    }),
    'session consistency replaces the level': byUser('posts', '1', {
      session: routingSession({ context: { consistency: 'eventual', vip: true } }),
    }),
    'floor strong (payments) holds against battery saving': byUser('payments', '1', {
      session: routingSession({ context: { batterySaving: true } }),
    }),
    'floor read_your_writes (users) holds against consistency weak': byUser('users', '1', {
      session: routingSession({ context: { consistency: 'weak' } }),
    }),
    'battery saving above the floor (users: strong -> read_your_writes)': byUser('users', '1', {
      session: routingSession({ context: { batterySaving: true } }),
    }),
  },
  hints: {
    'consistency=eventual hint on posts': byUser('posts', '1', { hints: { consistency: 'eventual' } }),
    'consistency=weak hint is floor-bounded (payments)': byUser('payments', '1', {
      hints: { consistency: 'weak' },
    }),
    'hint vip=on with a battery-saving session: cancel out': byUser('likes', '1', {
      hints: { vip: 'on' },
      session: routingSession({ context: { batterySaving: true } }),
    }),
    'hint battery_saving=off over a battery-saving session': byUser('likes', '1', {
      hints: { battery_saving: 'off' },
      session: routingSession({ context: { batterySaving: true } }),
    }),
    'shard=s0 forces the shard': byUser('likes', '1', { hints: { shard: 's0' }, session: overrider() }),
    'shard=s0 without the routingOverrides permission': byUser('likes', '1', { hints: { shard: 's0' } }),
    'shard=s9 unknown': byUser('likes', '1', { hints: { shard: 's9' }, session: overrider() }),
    'role=primary on an eventual read': byUser('likes', '1', { hints: { role: 'primary' } }),
    'role=replica on a strong read': byUser('users', '1', {
      hints: { role: 'replica' },
      session: overrider(),
    }),
    'role=replica on payments (floor strong)': byUser('payments', '1', {
      hints: { role: 'replica' },
      session: overrider(),
    }),
    'role=replica without the routingOverrides permission': byUser('likes', '1', {
      hints: { role: 'replica' },
    }),
    'role=leader invalid': byUser('likes', '1', { hints: { role: 'leader' } }),
    'session shard setting': byUser('likes', '2', {
      session: routingSession({ context: { shard: 's1', overridesAllowed: true } }),
    }),
  },
  transactions: {
    'read in a read-write transaction -> primary': byUser('likes', '1', {
      session: inTx('s1', 's1-primary'),
    }),
    'first statement of a transaction': {
      statement: 'UPDATE posts SET ... WHERE user_id = 1',
      facts: update('posts', true),
      literals: ['x', '1'],
      session: inTx(null),
    },
    'cross-shard transaction': byUser('likes', '2', { session: inTx('s1', 's1-primary') }),
    'scatter read inside a transaction': scatter('SELECT * FROM likes', {}, []),
    'READ ONLY transaction starts on a replica': byUser('posts', '1', { session: inTx(null, null, true) }),
    'READ ONLY transaction stays on its replica': byUser('users', '1', {
      session: inTx('s1', 's1-replica1', true),
    }),
    'COMMIT goes to the transaction server': {
      statement: 'COMMIT',
      facts: facts({ kind: 'transaction', transaction: { action: 'commit', readOnly: false } }),
      session: inTx('s1', 's1-primary'),
    },
    'BEGIN outside a transaction': {
      statement: 'BEGIN',
      facts: facts({ kind: 'transaction', transaction: { action: 'begin', readOnly: false } }),
    },
    'reference read inside a transaction uses its shard': {
      statement: 'SELECT * FROM trending_topics',
      facts: facts({ tables: ['trending_topics'], select: select() }),
      session: inTx('s1', 's1-primary'),
    },
  },
  scatter: {
    'no key: every shard, concatenated': scatter('SELECT id, user_id FROM likes', {}),
    'ORDER BY + LIMIT': scatter(
      'SELECT id, user_id FROM likes ORDER BY user_id DESC LIMIT 10',
      {
        orderBy: [{ position: 2, name: 'user_id', desc: true, nullsFirst: true }],
        limit: lit(0),
      },
      ['10'],
    ),
    'ORDER BY + LIMIT + OFFSET (per-shard LIMIT 15)': scatter(
      'SELECT id, user_id FROM likes ORDER BY id LIMIT 10 OFFSET 5',
      {
        orderBy: [{ position: 1, name: 'id', desc: false, nullsFirst: false }],
        limit: lit(0),
        offset: lit(1),
      },
      ['10', '5'],
    ),
    'count(*)': scatter('SELECT count(*) FROM likes', {
      outputs: [{ name: 'count', aggregate: 'count' }],
      hasAggregates: true,
    }),
    'GROUP BY with sum, min, max, avg and ORDER BY': scatter(
      'SELECT user_id, sum(x), min(x), max(x), avg(x) FROM likes GROUP BY user_id ORDER BY 2 DESC LIMIT 3',
      {
        outputs: [
          { name: 'user_id' },
          { name: 'sum', aggregate: 'sum' },
          { name: 'min', aggregate: 'min' },
          { name: 'max', aggregate: 'max' },
          { name: 'avg', aggregate: 'avg' },
        ],
        groupBy: [1],
        hasAggregates: true,
        orderBy: [{ position: 2, name: 'sum', desc: true, nullsFirst: true }],
        limit: lit(0),
      },
      ['3'],
    ),
    'SELECT DISTINCT': scatter('SELECT DISTINCT user_id FROM likes', {
      outputs: [{ name: 'user_id' }],
      distinct: true,
    }),
    'window function: refused': scatter('SELECT rank() OVER (...) FROM likes', {
      unmergeable: 'window functions',
    }),
    'count(DISTINCT): refused': scatter('SELECT count(DISTINCT user_id) FROM likes', {
      outputs: [{ name: 'count', aggregate: 'count', aggregateDistinct: true }],
      hasAggregates: true,
    }),
    'IN list on both shards': {
      statement: 'SELECT * FROM likes WHERE user_id IN (1, 2)',
      facts: facts({
        tables: ['likes'],
        keyConditions: [keyEq('likes', 'user_id', lit(0), lit(1))],
        select: select(),
      }),
      literals: ['1', '2'],
    },
    'join on the same key column': {
      statement: 'SELECT ... FROM likes JOIN recommendations USING (user_id)',
      facts: facts({
        tables: ['likes', 'recommendations'],
        select: select(),
        colocation: {
          refs: ['likes', 'recommendations'],
          groups: [[0, 1]],
          links: [
            [
              { refs: [0], column: 'user_id' },
              { refs: [1], column: 'user_id' },
            ],
          ],
          pins: [],
          blocks: [],
        },
      }),
    },
  },
  writes: {
    'UPDATE by key': {
      statement: 'UPDATE posts SET title = $1 WHERE user_id = 1',
      facts: update('posts', true),
      literals: ['x', '1'],
    },
    'UPDATE without key: refused': {
      statement: 'UPDATE posts SET title = $1',
      facts: update('posts', false),
    },
    'UPDATE without key, scatterWrites: every primary': {
      statement: 'UPDATE likes SET ...',
      facts: update('likes', false),
      topology: demoTopology({ tables: scatterWriteTables }),
    },
    'DELETE on a read-only shard': {
      statement: 'DELETE FROM posts WHERE user_id = 1',
      facts: update('posts', true),
      literals: ['x', '1'],
      topology: demoTopology({ readOnly: ['s1'] }),
    },
    'INSERT one row': insert(['1']),
    'INSERT rows on one shard': insert(['1', '3', '5']),
    'INSERT rows on two shards: split': insert(['1', '2', '3', '4']),
    'INSERT rows on two shards in a transaction: refused': { ...insert(['1', '2']), session: inTx(null) },
    'INSERT with bind parameters': {
      statement: 'INSERT INTO posts (id, user_id) VALUES ($1, $2)',
      facts: insertPosts([[param(1), param(2)]], { onConflict: true, returning: true }),
      params: ['7', '2'],
    },
    'SELECT ... FOR UPDATE by key': {
      statement: 'SELECT * FROM balances WHERE user_id = 2 FOR UPDATE',
      facts: facts({
        tables: ['balances'],
        locking: true,
        keyConditions: [keyEq('balances', 'user_id', lit(0))],
        select: select(),
      }),
      literals: ['2'],
    },
    'SELECT nextval(...)': {
      statement: "SELECT nextval('ids')",
      facts: facts({ functions: ['nextval'], select: select() }),
    },
  },
  tables: {
    'reference read: default shard at its level': {
      statement: 'SELECT * FROM trending_topics',
      facts: facts({ tables: ['trending_topics'], select: select() }),
    },
    'reference write: every primary': {
      statement: 'UPDATE trending_topics SET score = 0',
      facts: facts({ kind: 'write', tables: ['trending_topics'], writeTables: ['trending_topics'] }),
    },
    'unsharded table: default shard, default level': {
      statement: 'SELECT * FROM countries',
      facts: facts({ tables: ['countries'], select: select() }),
    },
    'sharded joined with unsharded on another shard: refused': {
      statement: 'SELECT ... FROM posts JOIN countries ... WHERE posts.user_id = 1',
      facts: facts({ tables: ['countries', 'posts'], keyConditions: [keyEq('posts', 'user_id', lit(0))] }),
      literals: ['1'],
    },
    'DDL on a sharded table: every primary': {
      statement: 'CREATE INDEX ON posts (created_at)',
      facts: facts({ kind: 'ddl', tables: ['posts'] }),
    },
    'DDL on a new table: default shard': {
      statement: 'CREATE TABLE t (a int)',
      facts: facts({ kind: 'ddl', tables: ['t'] }),
    },
  },
  local: {
    'SET shardgate.vip': {
      statement: 'SET shardgate.vip = on',
      facts: facts({ kind: 'shardgate', shardgate: { command: 'set', name: 'vip', value: 'on' } }),
    },
    'SHOW shardgate.consistency': {
      statement: 'SHOW shardgate.consistency',
      facts: facts({ kind: 'shardgate', shardgate: { command: 'show', name: 'consistency' } }),
    },
    'SHARDGATE EXPLAIN': {
      statement: 'SHARDGATE EXPLAIN SELECT * FROM posts WHERE user_id = 1',
      facts: facts({
        kind: 'shardgate',
        shardgate: { command: 'explain', statement: 'SELECT * FROM posts WHERE user_id = 1' },
      }),
      explainInner: plan(byUser('posts', '1')),
    },
    'SET search_path': {
      statement: 'SET search_path = app',
      facts: facts({
        kind: 'session',
        session: { action: 'set', name: 'search_path', value: 'app', local: false },
      }),
    },
    'unparsable statement': {
      statement: 'SELEC 1',
      facts: facts({ kind: 'unknown', parseError: 'syntax error' }),
    },
  },
};
GROUPS.transactions!['scatter read inside a transaction']!.session = inTx('s0', 's0-primary');

describe('golden plans', () => {
  for (const [group, cases] of Object.entries(GROUPS)) {
    it(group, () => {
      const entries: Record<string, GoldenEntry> = {};
      for (const [name, c] of Object.entries(cases))
        entries[name] = { statement: c.statement, plan: plan(c) };
      const actual = renderGroup(entries);
      expect(actual).toEqual(goldenGroup(group, actual));
    });
  }
});
