// Writes that assign a shard key (SQL in, plan out through the real analyzers and planner on the
// demo topology: user 1 -> s1, 2 and 4 -> s0): a row never stays on a shard its new key does not
// map to. Where the front end moves rows (PostgreSQL) and cross-shard transactions are allowed, an
// UPDATE to a known value another shard owns is planned as a move; otherwise, or when the move
// could not be exact, it is refused with 0A000 (unless the new value stays on the one shard).
import { beforeAll, describe, expect, it } from 'vitest';
import type { Router } from '../../src/router/router.js';
import type { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';
import { routingSession } from '../support/topology-fixture.js';
import { byDialect, demoRouters, planOutcome as outcome } from '../support/unit-plan-outcome.js';

let pg: Router;
let my: Router<MysqlQueryAnalyzer>;
beforeAll(async () => {
  ({ pg, mysql: my } = await demoRouters());
});
const on = (dialect: 'postgres' | 'mysql') => (dialect === 'postgres' ? pg : my);

describe('UPDATE of the shard key', () => {
  it.each(
    byDialect(
      [
        ['UPDATE users SET user_id = 700202 WHERE user_id = 700003', 'error SHARD_KEY_UPDATE'],
        ['UPDATE users SET user_id = user_id + 1 WHERE user_id = 1', 'error SHARD_KEY_UPDATE'],
        ['UPDATE users SET user_id = 1 WHERE user_id = 2', 'error SHARD_KEY_UPDATE'],
      ],
      [
        ['UPDATE users SET name = $1, user_id = $2 WHERE user_id = $2', 'single s0', ['x', '2']],
        ['UPDATE users SET user_id = 4 WHERE user_id = 2', 'single s0'],
        ['UPDATE users u SET user_id = 1 WHERE u.user_id = 1', 'single s1'],
        ['UPDATE users SET name = $1 WHERE user_id = $2', 'single s0', ['x', '2']],
        [
          'INSERT INTO users (id, user_id) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id',
          'single s0',
        ],
        [
          'INSERT INTO users (id, user_id) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET user_id = 1',
          'error SHARD_KEY_UPDATE',
        ],
      ],
      [
        ['UPDATE users SET name = ?, user_id = ? WHERE user_id = ?', 'single s0', ['x', '2', '2']],
        ['UPDATE users u SET u.user_id = 1 WHERE u.user_id = 1', 'single s1'],
        [
          'INSERT INTO users (id, user_id) VALUES (1, 2) ON DUPLICATE KEY UPDATE user_id = VALUES(user_id)',
          'single s0',
        ],
        [
          'INSERT INTO users (id, user_id) VALUES (1, 2) ON DUPLICATE KEY UPDATE user_id = 1',
          'error SHARD_KEY_UPDATE',
        ],
      ],
    ),
  )('%s: %s -> %s', (dialect, sql, want, params) => {
    expect(outcome(on(dialect), sql, params)).toBe(want);
  });

  it('the refusal says what to do', () => {
    const p = pg.planSimple('UPDATE users SET user_id = 700202 WHERE user_id = 700003', routingSession())[0]!
      .plan;
    expect(p).toMatchObject({
      type: 'error',
      code: 'SHARD_KEY_UPDATE',
      params: { table: 'users', column: 'user_id', value: '700202' },
    });
  });
});

describe('UPDATE of the shard key where rows can move (PostgreSQL, crossShard: two_phase)', () => {
  const moving = (options: Parameters<typeof routingSession>[0] = {}) =>
    routingSession({ crossShardTransactions: true, ...options });
  const planned = (
    sql: string,
    options: Parameters<typeof routingSession>[0] = {},
    params: string[] = [],
  ) => {
    const p = pg.planWithValues(sql, moving(options), params)[0]!.plan;
    if (p.type === 'key-move')
      return `move ${p.sources.map((t) => t.shard).join(',')} -> ${p.owner.shard} (${p.table}.${p.column} = ${p.value})`;
    if (p.type === 'error') return `error ${p.code}: ${p.params.why ?? ''}`;
    return p.type === 'single' ? `single ${p.target.shard}` : p.type;
  };

  it.each([
    ['UPDATE users SET user_id = 1 WHERE user_id = 2', 'move s0 -> s1 (users.user_id = 1)'],
    [
      "UPDATE users SET name = 'x', user_id = $1 WHERE user_id = $2 RETURNING *",
      'move s0 -> s1 (users.user_id = 1)',
      ['1', '2'],
    ],
    ['UPDATE users SET user_id = 1 WHERE user_id IN (1, 2)', 'move s1,s0 -> s1 (users.user_id = 1)'],
    ['UPDATE users SET user_id = 4 WHERE user_id = 2', 'single s0'],
  ] as Array<[string, string, string[]?]>)('%s -> %s', (sql, want, params) => {
    expect(planned(sql, {}, params).replace('s0,s1 ->', 's1,s0 ->')).toBe(want);
  });

  it.each([
    ['UPDATE users SET user_id = user_id + 1 WHERE user_id = 2', 'constant or a parameter'],
    ["UPDATE users SET user_id = 1 WHERE name = 'x'", 'found by their current key'],
    [
      'UPDATE users SET user_id = 1 FROM posts WHERE posts.user_id = users.user_id AND users.user_id = 2',
      'reads other tables',
    ],
    ['INSERT INTO users (id, user_id) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET user_id = 1', 'an upsert'],
  ])('refused: %s (%s)', (sql, why) => {
    const got = planned(sql);
    expect(got).toMatch(/^error SHARD_KEY_UPDATE/);
    expect(got).toContain(why);
  });

  it('refused where the crossShard policy refuses: config, session, data type', () => {
    const sql = 'UPDATE users SET user_id = 1 WHERE user_id = 2';
    expect(planned(sql, { crossShardTransactions: false })).toContain('transactions.crossShard refuses');
    expect(planned(sql, { context: { crossShardRefused: true } })).toContain('this session');
    expect(planned(sql, { inTransaction: true, crossShardRefusedBy: 'data type user_likes' })).toContain(
      'data type user_likes refuses',
    );
    expect(outcome(pg, sql)).toBe('error SHARD_KEY_UPDATE');
  });
});

describe('writes whose key values are known', () => {
  it.each(
    byDialect(
      [["UPDATE users SET name = 'x' WHERE user_id IN (1, 2)", 'scatter s0,s1']],
      [
        ["UPDATE users SET name = 'x' WHERE user_id IN (2, 4)", 'single s0'],
        ['DELETE FROM users WHERE user_id = ANY(ARRAY[1, 2, 3])', 'scatter s0,s1'],
        ['DELETE FROM users WHERE user_id = ANY($1)', 'scatter s0,s1', ['{1,2}']],
        ["UPDATE users SET name = 'x' WHERE name = 'y'", 'error SCATTER_WRITE_REFUSED'],
        [
          'WITH d AS (DELETE FROM users WHERE user_id IN (1, 2) RETURNING id) SELECT count(*) FROM d',
          'error SCATTER_WRITE_REFUSED',
        ],
      ],
      [
        ['DELETE FROM users WHERE user_id IN (?, ?)', 'scatter s0,s1', ['1', '2']],
        ['DELETE FROM users WHERE user_id IN (1, 2) LIMIT 1', 'error SUBQUERY_NOT_SHARD_LOCAL'],
      ],
    ),
  )('%s: %s -> %s', (dialect, sql, want, params) => {
    expect(outcome(on(dialect), sql, params)).toBe(want);
  });

  it('inside a transaction: refused, the shards would not commit together', () => {
    const session = routingSession({ inTransaction: true });
    const p = pg.planSimple("UPDATE users SET name = 'x' WHERE user_id IN (1, 2)", session)[0]!.plan;
    expect(p).toMatchObject({ type: 'error', code: 'CROSS_SHARD_TRANSACTION' });
  });
});
