import { describe, expect, it } from 'vitest';
import { tableSchema } from '../../src/config/schema.js';
import type { Plan } from '../../src/router/plan.js';
import { facts, insertPosts, keyEq, lit, param, plan, readByUser, select } from '../support/router-facts.js';
import { demoConfig, demoTopology, routingSession } from '../support/topology-fixture.js';

// PostgreSQL's hashint8extended puts user_id 1, 3, 5 on s1 ("80-") and 2, 4, 8 on s0 ("-80").
const ON_S1 = '1';
const ON_S0 = '2';
/** A session whose user has the routingOverrides permission. */
const overrider = () => routingSession({ context: { overridesAllowed: true } });

function only<T extends Plan['type']>(p: Plan, type: T): Extract<Plan, { type: T }> {
  if (p.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(p, null, 1)}`);
  return p as Extract<Plan, { type: T }>;
}

const updatePosts = (conditions = [keyEq('posts', 'user_id', lit(0))]) =>
  facts({ kind: 'write', tables: ['posts'], writeTables: ['posts'], keyConditions: conditions });

const insertRows = (rows: number) =>
  insertPosts(Array.from({ length: rows }, (_, i) => [lit(2 * i), lit(2 * i + 1)]));

describe('reads by shard key', () => {
  it('read_your_writes without a write on the shard: a replica of the owning shard', () => {
    const p = only(plan({ facts: readByUser('posts'), literals: [ON_S1] }), 'single');
    expect(p.target).toEqual({ shard: 's1', server: 's1-replica1', role: 'replica' });
    expect(p).toMatchObject({ level: 'read_your_writes', dataTypes: ['user_posts'], write: false });
    expect(p.keys).toEqual([{ shard: 's1', table: 'posts', value: '1' }]);
    expect(p.reasons).toContain('table posts -> data type user_posts (read_your_writes)');
  });

  it('read_your_writes after a write the replica has not replayed: wait, then primary', () => {
    const session = routingSession({ lastWritePositions: { s1: '0/4000000' } });
    const p = only(plan({ facts: readByUser('posts'), literals: [ON_S1], session }), 'single');
    expect(p.target.wait).toEqual({ position: '0/4000000', maxWaitMs: 50, fallbackServer: 's1-primary' });
    // A write on the other shard does not matter.
    const other = routingSession({ lastWritePositions: { s0: '0/4000000' } });
    expect(
      only(plan({ facts: readByUser('posts'), literals: [ON_S1], session: other }), 'single').target.wait,
    ).toBeUndefined();
  });

  it('strong data types read from the primary; parameters resolve like literals', () => {
    const f = facts({ tables: ['payments'], keyConditions: [keyEq('payments', 'user_id', param(1))] });
    const p = only(plan({ facts: f, params: [ON_S0] }), 'single');
    expect(p.target).toEqual({ shard: 's0', server: 's0-primary', role: 'primary' });
  });

  it('IN lists on one shard stay single; = ANY($n) uses the array', () => {
    const f = facts({
      tables: ['likes'],
      keyConditions: [keyEq('likes', 'user_id', lit(0), lit(1))],
      select: select(),
    });
    expect(only(plan({ facts: f, literals: ['2', '4'] }), 'single').target.shard).toBe('s0');
    const any = facts({
      tables: ['likes'],
      keyConditions: [{ table: 'likes', column: 'user_id', values: [], arrayParam: 1 }],
      select: select(),
    });
    expect(only(plan({ facts: any, arrays: { 1: ['1', '3'] } }), 'single').target.shard).toBe('s1');
    expect(
      only(plan({ facts: any, arrays: { 1: ['1', '2'] } }), 'scatter').targets.map((t) => t.shard),
    ).toEqual(['s0', 's1']);
    expect(only(plan({ facts: any }), 'scatter').reasons).toContain(
      'likes.user_id: value not known -> all shards',
    );
  });

  it('a non-integer int key owns no shard: the read scatters', () => {
    expect(plan({ facts: readByUser('likes'), literals: ['abc'] }).type).toBe('scatter');
  });
});

describe('scatter reads', () => {
  const f = (over = {}) => facts({ tables: ['likes'], select: select(over) });

  it('no key: every shard, with the level choosing each shard server', () => {
    const p = only(plan({ facts: f() }), 'scatter');
    expect(p.targets).toEqual([
      { shard: 's0', server: 's0-replica1', role: 'replica' },
      { shard: 's1', server: 's1-replica1', role: 'replica' },
    ]);
    expect(p.merge).toBeNull();
    expect(p.rewrite).toBeNull();
  });

  it('ORDER BY + LIMIT/OFFSET: merge sorted, per-shard LIMIT limit+offset', () => {
    const p = only(
      plan({
        facts: f({
          orderBy: [{ position: 2, name: 'user_id', desc: true, nullsFirst: true }],
          limit: lit(0),
          offset: lit(1),
        }),
        literals: ['10', '5'],
      }),
      'scatter',
    );
    expect(p.merge).toEqual({
      orderBy: [{ column: 1, desc: true, nullsFirst: true }],
      groupBy: [],
      aggregates: [],
      offset: 5,
      limit: 10,
      distinct: false,
      visibleColumns: null,
    });
    expect(p.rewrite).toEqual({ limit: 15, avgColumns: [] });
    expect(p.rewrittenSql).toBeNull();
  });

  it('LIMIT without OFFSET needs no rewrite', () => {
    const p = only(plan({ facts: f({ limit: lit(0) }), literals: ['3'] }), 'scatter');
    expect(p.rewrite).toBeNull();
    expect(p.merge?.limit).toBe(3);
  });

  it('aggregates and GROUP BY', () => {
    const p = only(
      plan({
        facts: f({
          outputs: [
            { name: 'user_id' },
            { name: 'count', aggregate: 'count' },
            { name: 'avg', aggregate: 'avg' },
          ],
          groupBy: [1],
          hasAggregates: true,
          limit: lit(0),
        }),
        literals: ['10'],
      }),
      'scatter',
    );
    expect(p.merge).toMatchObject({
      groupBy: [0],
      aggregates: [
        { column: 1, fn: 'count' },
        { column: 2, fn: 'avg', countColumn: 3 },
      ],
      limit: 10,
      visibleColumns: 3,
    });
    expect(p.rewrite).toEqual({ limit: null, avgColumns: [2] });
  });

  it('refuses what a merge cannot reproduce, but not on a single shard', () => {
    const cases = [
      { unmergeable: 'window function' },
      { orderBy: [{ position: null, name: 'created_at', desc: false, nullsFirst: false }] },
      {
        outputs: [{ name: '*', star: true }, { name: 'x' }],
        orderBy: [{ position: 2, name: 'x', desc: false, nullsFirst: false }],
      },
      { outputs: [{ name: 'count', aggregate: 'count', aggregateDistinct: true }], hasAggregates: true },
      { outputs: [{ name: 'user_id' }, { name: 'count', aggregate: 'count' }], hasAggregates: true },
      { groupBy: [null] },
    ];
    for (const c of cases) {
      const p = only(plan({ facts: f(c) }), 'error');
      expect(p.code).toBe('SCATTER_UNSUPPORTED');
    }
    const single = facts({
      tables: ['likes'],
      keyConditions: [keyEq('likes', 'user_id', lit(0))],
      select: select({ unmergeable: 'window function' }),
    });
    expect(plan({ facts: single, literals: ['1'] }).type).toBe('single');
  });

  it('joins: on the shard keys scatters; other conditions, or an unsharded table elsewhere, are refused', () => {
    const joined = (tables: string[], a: string, b: string) =>
      facts({
        tables,
        select: select(),
        colocation: {
          refs: tables,
          groups: [[0, 1]],
          links: [
            [
              { refs: [0], column: a },
              { refs: [1], column: b },
            ],
          ],
          pins: [],
          blocks: [],
        },
      });
    expect(plan({ facts: joined(['likes', 'posts'], 'user_id', 'user_id') }).type).toBe('scatter');
    expect(only(plan({ facts: joined(['likes', 'posts'], 'id', 'id') }), 'error').code).toBe(
      'JOIN_NOT_COLOCATED',
    );
    const tables = {
      ...demoConfig().tables,
      orders: { ...demoConfig().tables.posts!, shardKey: 'merchant_id' },
    };
    const mixed = joined(['orders', 'posts'], 'user_id', 'user_id');
    const err = only(plan({ facts: mixed, topology: demoTopology({ tables }) }), 'error');
    expect(err.code).toBe('JOIN_NOT_COLOCATED');
    // Without the analysis of how they are combined: refused, never guessed from names.
    const unknown = facts({ tables: ['likes', 'posts'], select: select() });
    expect(only(plan({ facts: unknown }), 'error').params.detail).toMatch(/could not be analyzed/);
    const withUnsharded = facts({
      tables: ['countries', 'posts'],
      keyConditions: [keyEq('posts', 'user_id', lit(0))],
    });
    expect(only(plan({ facts: withUnsharded, literals: [ON_S1] }), 'error').params.detail).toMatch(
      /unsharded countries/,
    );
    expect(only(plan({ facts: withUnsharded, literals: [ON_S0] }), 'single').target.shard).toBe('s0');
  });
});

describe('writes', () => {
  it('by key: the owning primary, level null', () => {
    const p = only(plan({ facts: updatePosts(), literals: [ON_S1] }), 'single');
    expect(p).toMatchObject({
      write: true,
      level: null,
      target: { shard: 's1', server: 's1-primary', role: 'primary' },
    });
  });

  it('without a key: refused unless scatterWrites', () => {
    const p = only(plan({ facts: updatePosts([]) }), 'error');
    expect(p).toMatchObject({ code: 'SCATTER_WRITE_REFUSED', params: { table: 'posts', column: 'user_id' } });
    const tables = { ...demoConfig().tables, posts: { ...demoConfig().tables.posts!, scatterWrites: true } };
    const s = only(plan({ facts: updatePosts([]), topology: demoTopology({ tables }) }), 'scatter');
    expect(s).toMatchObject({ write: true, merge: null });
    expect(s.targets.map((t) => t.server)).toEqual(['s0-primary', 's1-primary']);
  });

  it('known keys on several shards: exactly those primaries outside a transaction, refused in one', () => {
    const f = updatePosts([keyEq('posts', 'user_id', lit(0), lit(1))]);
    const p = only(plan({ facts: f, literals: [ON_S0, ON_S1] }), 'scatter');
    expect(p).toMatchObject({ write: true, merge: null });
    expect(p.targets.map((t) => t.server)).toEqual(['s0-primary', 's1-primary']);
    const inTx = routingSession({
      inTransaction: true,
      transactionShard: 's0',
      transactionServer: 's0-primary',
    });
    expect(only(plan({ facts: f, literals: [ON_S0, ON_S1], session: inTx }), 'error').code).toBe(
      'CROSS_SHARD_TRANSACTION',
    );
  });

  it('locking reads and write functions are writes', () => {
    const locking = facts({
      tables: ['likes'],
      locking: true,
      keyConditions: [keyEq('likes', 'user_id', lit(0))],
    });
    expect(only(plan({ facts: locking, literals: [ON_S1] }), 'single').target.role).toBe('primary');
    expect(only(plan({ facts: facts({ tables: ['likes'], locking: true }) }), 'error').params.verb).toBe(
      'SELECT ... FOR UPDATE/SHARE',
    );
    const nextval = facts({ functions: ['nextval'] });
    const p = only(plan({ facts: nextval }), 'single');
    expect(p).toMatchObject({ write: true, target: { server: 's0-primary' } });
    expect(p.reasons).toContain('calls nextval() -> write');
  });

  it('read-only shards refuse writes but serve reads', () => {
    const topology = demoTopology({ readOnly: ['s1'] });
    expect(only(plan({ facts: updatePosts(), literals: [ON_S1], topology }), 'error')).toMatchObject({
      code: 'SHARD_READ_ONLY',
      params: { shard: 's1' },
    });
    expect(plan({ facts: updatePosts(), literals: [ON_S0], topology }).type).toBe('single');
    expect(plan({ facts: readByUser('posts'), literals: [ON_S1], topology }).type).toBe('single');
  });

  it('writes ignore role=replica', () => {
    const p = only(
      plan({ facts: updatePosts(), literals: [ON_S1], hints: { role: 'replica' }, session: overrider() }),
      'single',
    );
    expect(p.target.role).toBe('primary');
  });
});

describe('INSERT', () => {
  it('rows on one shard: single; on several: split', () => {
    expect(
      only(plan({ facts: insertRows(2), literals: ['10', ON_S1, '11', '3'] }), 'single').target.shard,
    ).toBe('s1');
    const p = only(
      plan({ facts: insertRows(3), literals: ['10', ON_S1, '11', ON_S0, '12', '3'] }),
      'split-insert',
    );
    expect(p.parts).toEqual([
      { target: { shard: 's0', server: 's0-primary', role: 'primary' }, rows: [1] },
      { target: { shard: 's1', server: 's1-primary', role: 'primary' }, rows: [0, 2] },
    ]);
    expect(p.keys).toHaveLength(3);
  });

  it('rows on several shards inside a transaction: CROSS_SHARD_TRANSACTION', () => {
    const session = routingSession({ inTransaction: true });
    const p = only(plan({ facts: insertRows(2), literals: ['10', ON_S1, '11', ON_S0], session }), 'error');
    expect(p).toMatchObject({ code: 'CROSS_SHARD_TRANSACTION', params: { first: 's0', second: 's1' } });
  });

  it('refuses rows whose shard cannot be known', () => {
    const noKey = facts({
      kind: 'write',
      tables: ['posts'],
      writeTables: ['posts'],
      insert: {
        table: 'posts',
        columns: ['id'],
        rows: [[lit(0)]],
        fromSelect: false,
        onConflict: false,
        returning: false,
      },
    });
    expect(only(plan({ facts: noKey, literals: ['1'] }), 'error').params.detail).toMatch(
      /must list its shard key/,
    );
    const expr = insertRows(1);
    expr.insert!.rows[0]![1] = null;
    expect(only(plan({ facts: expr, literals: ['1'] }), 'error').params.detail).toMatch(/as an expression/);
    const fromSelect = insertRows(0);
    fromSelect.insert!.fromSelect = true;
    expect(only(plan({ facts: fromSelect }), 'error').params.detail).toMatch(/INSERT \.\.\. SELECT/);
  });

  it('an int key that is not an integer goes to the default shard, which reports the error', () => {
    expect(only(plan({ facts: insertRows(1), literals: ['1', 'x'] }), 'single').target.shard).toBe('s0');
  });
});

describe('transactions', () => {
  const bound = (shard: string, server = `${shard}-primary`, readOnly = false) =>
    routingSession({
      inTransaction: true,
      transactionShard: shard,
      transactionServer: server,
      transactionReadOnly: readOnly,
    });

  it('reads in a read-write transaction go to the primary', () => {
    const p = only(plan({ facts: readByUser('likes'), literals: [ON_S1], session: bound('s1') }), 'single');
    expect(p).toMatchObject({ level: 'strong', target: { server: 's1-primary', role: 'primary' } });
  });

  it('a transaction bound to one shard cannot use another', () => {
    const p = only(plan({ facts: readByUser('likes'), literals: [ON_S0], session: bound('s1') }), 'error');
    expect(p).toMatchObject({ code: 'CROSS_SHARD_TRANSACTION', params: { first: 's1', second: 's0' } });
    expect(
      only(plan({ facts: facts({ tables: ['likes'], select: select() }), session: bound('s1') }), 'error')
        .code,
    ).toBe('CROSS_SHARD_TRANSACTION');
  });

  it('with cross-shard transactions on, a one-shard statement joins another shard; a multi-shard one stays refused', () => {
    const crossing = { ...bound('s1'), crossShardTransactions: true };
    const p = only(plan({ facts: readByUser('likes'), literals: [ON_S0], session: crossing }), 'single');
    expect(p.target).toEqual({ shard: 's0', server: 's0-primary', role: 'primary' });
    expect(
      only(plan({ facts: facts({ tables: ['likes'], select: select() }), session: crossing }), 'error').code,
    ).toBe('CROSS_SHARD_TRANSACTION');
    // A read-only transaction already holding a replica of s0 reads there again.
    const readOnly = {
      ...bound('s1', 's1-replica1', true),
      crossShardTransactions: true,
      transactionServers: new Map([
        ['s0', 's0-replica1'],
        ['s1', 's1-replica1'],
      ]),
    };
    expect(
      only(plan({ facts: readByUser('likes'), literals: [ON_S0], session: readOnly }), 'single').target,
    ).toEqual({ shard: 's0', server: 's0-replica1', role: 'replica' });
  });

  it('READ ONLY transactions start on a replica the level allows, then stay on their server', () => {
    const start = routingSession({ inTransaction: true, transactionReadOnly: true });
    expect(
      only(plan({ facts: readByUser('likes'), literals: [ON_S1], session: start }), 'single').target,
    ).toEqual({
      shard: 's1',
      server: 's1-replica1',
      role: 'replica',
    });
    expect(
      only(plan({ facts: readByUser('users'), literals: [ON_S1], session: start }), 'single').target.role,
    ).toBe('primary');
    const p = only(
      plan({ facts: readByUser('users'), literals: [ON_S1], session: bound('s1', 's1-replica1', true) }),
      'single',
    );
    expect(p.target).toEqual({ shard: 's1', server: 's1-replica1', role: 'replica' });
  });

  it('reference tables read on the transaction shard; writes to them need every shard', () => {
    const read = facts({ tables: ['trending_topics'], select: select() });
    expect(only(plan({ facts: read, session: bound('s1') }), 'single').target.shard).toBe('s1');
    const write = facts({ kind: 'write', tables: ['trending_topics'], writeTables: ['trending_topics'] });
    expect(only(plan({ facts: write, session: bound('s1') }), 'error').code).toBe('CROSS_SHARD_TRANSACTION');
  });

  it('session and transaction statements follow the transaction', () => {
    const commit = facts({ kind: 'transaction', transaction: { action: 'commit', readOnly: false } });
    expect(only(plan({ facts: commit, session: bound('s1') }), 'single').target.server).toBe('s1-primary');
    expect(only(plan({ facts: commit, session: bound('s1', 's1-replica1', true) }), 'single').target).toEqual(
      {
        shard: 's1',
        server: 's1-replica1',
        role: 'replica',
      },
    );
    expect(only(plan({ facts: commit }), 'single').target.server).toBe('s0-primary');
  });
});

describe('tables by kind', () => {
  it('reference reads go to the default shard at their level; writes to every primary', () => {
    const read = only(plan({ facts: facts({ tables: ['trending_topics'], select: select() }) }), 'single');
    expect(read).toMatchObject({ level: 'eventual', target: { shard: 's0', role: 'replica' } });
    const write = only(
      plan({
        facts: facts({ kind: 'write', tables: ['trending_topics'], writeTables: ['trending_topics'] }),
      }),
      'scatter',
    );
    expect(write.targets.map((t) => t.server)).toEqual(['s0-primary', 's1-primary']);
    const fromSharded = facts({
      kind: 'write',
      tables: ['posts', 'trending_topics'],
      writeTables: ['trending_topics'],
    });
    expect(only(plan({ facts: fromSharded }), 'error').code).toBe('SCATTER_UNSUPPORTED');
  });

  it('reference tables joined with a sharded table follow the sharded key', () => {
    const f = facts({
      tables: ['posts', 'trending_topics'],
      keyConditions: [keyEq('posts', 'user_id', lit(0))],
    });
    expect(only(plan({ facts: f, literals: [ON_S1] }), 'single').target.shard).toBe('s1');
  });

  it('unsharded tables live on the default shard at routing.defaultLevel', () => {
    const p = only(plan({ facts: facts({ tables: ['countries'], select: select() }) }), 'single');
    expect(p).toMatchObject({ level: 'strong', target: { server: 's0-primary' } });
  });

  it('DDL on sharded tables runs on every primary; on other objects on the default shard', () => {
    const ddl = only(plan({ facts: facts({ kind: 'ddl', tables: ['posts'] }) }), 'scatter');
    expect(ddl).toMatchObject({ write: true, targets: [{ server: 's0-primary' }, { server: 's1-primary' }] });
    expect(only(plan({ facts: facts({ kind: 'ddl', tables: ['countries'] }) }), 'single').target.server).toBe(
      's0-primary',
    );
  });
});

describe('vertical placement: an unsharded table with a home', () => {
  const topology = () => {
    const t = demoTopology();
    return {
      ...t,
      tables: { ...t.tables, audit_log: { ...tableSchema.parse({}), home: 's1' } },
    };
  };

  it('reads, writes and DDL of the table go to its home; other unsharded tables stay on the default', () => {
    const read = only(
      plan({ facts: facts({ tables: ['audit_log'], select: select() }), topology: topology() }),
      'single',
    );
    expect(read.target.server).toBe('s1-primary');
    expect(read.reasons).toContain('unsharded audit_log -> s1');
    const write = facts({ kind: 'write', tables: ['audit_log'], writeTables: ['audit_log'] });
    expect(only(plan({ facts: write, topology: topology() }), 'single').target.server).toBe('s1-primary');
    const ddl = facts({ kind: 'ddl', tables: ['audit_log'] });
    expect(only(plan({ facts: ddl, topology: topology() }), 'single').target.server).toBe('s1-primary');
    const other = facts({ tables: ['countries'], select: select() });
    expect(only(plan({ facts: other, topology: topology() }), 'single').target.server).toBe('s0-primary');
  });

  it('joins with sharded rows of its home work; with another home or shard they are refused', () => {
    const sameShard = facts({
      tables: ['posts', 'audit_log'],
      keyConditions: [keyEq('posts', 'user_id', lit(0))],
      select: select(),
    });
    expect(
      only(plan({ facts: sameShard, literals: [ON_S1], topology: topology() }), 'single').target.shard,
    ).toBe('s1');
    const refused = only(plan({ facts: sameShard, literals: [ON_S0], topology: topology() }), 'error');
    expect(refused.params.detail).toMatch(/lives only on s1/);
    const twoHomes = facts({ tables: ['audit_log', 'countries'], select: select() });
    expect(only(plan({ facts: twoHomes, topology: topology() }), 'error').params.detail).toMatch(
      /different shards/,
    );
  });
});

describe('hints', () => {
  it('shard= forces the shard; unknown shards are an error', () => {
    const p = only(
      plan({
        facts: facts({ tables: ['likes'], select: select() }),
        hints: { shard: 's1' },
        session: overrider(),
      }),
      'single',
    );
    expect(p.target.shard).toBe('s1');
    expect(
      only(
        plan({ facts: readByUser('likes'), literals: ['1'], hints: { shard: 's9' }, session: overrider() }),
        'error',
      ),
    ).toMatchObject({
      code: 'UNKNOWN_SHARD',
      params: { shard: 's9', known: 's0, s1' },
    });
  });

  it('role= forces the role of reads; the session setting works the same way', () => {
    expect(
      only(plan({ facts: readByUser('likes'), literals: [ON_S1], hints: { role: 'primary' } }), 'single')
        .target.role,
    ).toBe('primary');
    const replicaHint = { hints: { role: 'replica' }, session: overrider() };
    expect(
      only(plan({ facts: readByUser('likes'), literals: [ON_S1], ...replicaHint }), 'single').target.role,
    ).toBe('replica');
    // payments has floor strong: the override cannot read it from a replica.
    expect(
      only(plan({ facts: readByUser('payments'), literals: [ON_S1], ...replicaHint }), 'single').target.role,
    ).toBe('primary');
    const session = routingSession({ context: { role: 'primary' } });
    expect(only(plan({ facts: readByUser('likes'), literals: [ON_S1], session }), 'single').target.role).toBe(
      'primary',
    );
  });

  it('consistency= sets the level within the floor', () => {
    expect(
      plan({ facts: readByUser('posts'), literals: [ON_S1], hints: { consistency: 'strong' } }).level,
    ).toBe('strong');
    expect(
      plan({ facts: readByUser('payments'), literals: [ON_S1], hints: { consistency: 'weak' } }).level,
    ).toBe('strong');
  });

  it('invalid hint values are errors', () => {
    expect(
      only(plan({ facts: readByUser('likes'), literals: ['1'], hints: { role: 'leader' } }), 'error').code,
    ).toBe('INVALID_HINT');
    expect(
      only(plan({ facts: readByUser('likes'), literals: ['1'], hints: { consistency: 'now' } }), 'error')
        .params,
    ).toMatchObject({
      name: 'shardgate.consistency',
      value: 'now',
    });
  });
});

describe('local and session-level statements', () => {
  it('shardgate commands are local plans', () => {
    const set = facts({ kind: 'shardgate', shardgate: { command: 'set', name: 'vip', value: 'on' } });
    expect(only(plan({ facts: set }), 'local').action).toEqual({
      kind: 'set-context',
      name: 'vip',
      value: 'on',
    });
    const reset = facts({ kind: 'shardgate', shardgate: { command: 'reset', name: 'vip' } });
    expect(only(plan({ facts: reset }), 'local').action).toEqual({
      kind: 'set-context',
      name: 'vip',
      value: null,
    });
    const inner = plan({ facts: readByUser('likes'), literals: ['1'] });
    const explain = facts({ kind: 'shardgate', shardgate: { command: 'explain', statement: 'SELECT 1' } });
    expect(only(plan({ facts: explain, explainInner: inner }), 'local').action).toEqual({
      kind: 'explain',
      plan: inner,
    });
  });

  it('SET, SHOW, utility and unparsable statements go to the default primary', () => {
    for (const kind of ['session', 'utility', 'unknown', 'empty'] as const) {
      const p = only(plan({ facts: facts({ kind }) }), 'single');
      expect(p.target.server).toBe('s0-primary');
      expect(p.write).toBe(kind === 'unknown' || kind === 'utility');
    }
  });

  it('COPY on a sharded table without a key is refused; with a shard hint it runs there', () => {
    const copy = facts({ kind: 'utility', utility: 'copy_to', tables: ['posts'] });
    expect(only(plan({ facts: copy }), 'error').code).toBe('SCATTER_UNSUPPORTED');
    expect(
      only(plan({ facts: copy, hints: { shard: 's1' }, session: overrider() }), 'single').target.shard,
    ).toBe('s1');
  });

  it('the plan carries the topology version', () => {
    expect(
      plan({ facts: facts({ kind: 'session' }), topology: demoTopology({ version: 7 }) }).topologyVersion,
    ).toBe(7);
  });
});

describe('routing overrides', () => {
  it('need the routingOverrides permission, from a hint or the session; SET/RESET stay possible', () => {
    const read = { facts: readByUser('likes'), literals: [ON_S1] };
    for (const c of [
      { hints: { shard: 's1' } },
      { hints: { role: 'replica' } },
      { session: routingSession({ context: { shard: 's0' } }) },
      { session: routingSession({ context: { role: 'replica' } }) },
    ]) {
      expect(only(plan({ ...read, ...c }), 'error').code).toBe('ROUTING_OVERRIDE_NOT_ALLOWED');
    }
    expect(only(plan({ ...read, hints: { role: 'primary' } }), 'single').target.role).toBe('primary');
    const stuck = routingSession({ context: { shard: 's0' } });
    const reset = facts({ kind: 'shardgate', shardgate: { command: 'reset', name: 'shard' } });
    expect(plan({ facts: reset, session: stuck }).type).toBe('local');
  });

  it('a forced shard must own what a write touches', () => {
    const forced = (shard: string) => ({ hints: { shard }, session: overrider() });
    expect(
      only(plan({ facts: updatePosts(), literals: [ON_S1], ...forced('s1') }), 'single').target.shard,
    ).toBe('s1');
    const elsewhere = only(plan({ facts: updatePosts(), literals: [ON_S1], ...forced('s0') }), 'error');
    expect(elsewhere).toMatchObject({ code: 'ROUTING_OVERRIDE_REFUSED', params: { shard: 's0' } });
    expect(elsewhere.params.detail).toContain('s1');
    // No key and no scatterWrites: refused (it would bypass SCATTER_WRITE_REFUSED).
    expect(only(plan({ facts: updatePosts([]), ...forced('s0') }), 'error').code).toBe(
      'ROUTING_OVERRIDE_REFUSED',
    );
    // INSERT rows on another shard.
    expect(only(plan({ facts: insertRows(1), literals: ['10', ON_S1], ...forced('s0') }), 'error').code).toBe(
      'ROUTING_OVERRIDE_REFUSED',
    );
    expect(
      only(plan({ facts: insertRows(1), literals: ['10', ON_S1], ...forced('s1') }), 'single').target.shard,
    ).toBe('s1');
    // Reference tables are written on every shard; DDL on sharded tables runs everywhere.
    const refWrite = facts({ kind: 'write', tables: ['trending_topics'], writeTables: ['trending_topics'] });
    expect(only(plan({ facts: refWrite, ...forced('s1') }), 'error').code).toBe('ROUTING_OVERRIDE_REFUSED');
    const ddl = facts({ kind: 'ddl', tables: ['posts'] });
    expect(only(plan({ facts: ddl, ...forced('s1') }), 'error').code).toBe('ROUTING_OVERRIDE_REFUSED');
    // Unsharded tables live on the default shard (s0) only.
    const unsharded = facts({ kind: 'write', tables: ['countries'], writeTables: ['countries'] });
    expect(only(plan({ facts: unsharded, ...forced('s1') }), 'error').code).toBe('ROUTING_OVERRIDE_REFUSED');
    expect(only(plan({ facts: unsharded, ...forced('s0') }), 'single').target.shard).toBe('s0');
  });
});
