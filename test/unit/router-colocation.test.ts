// Co-location is decided by the join condition (SQL in, plan out through the real analyzer and
// planner on the demo topology, where every table is sharded by user_id): shard-key equalities
// make per-shard answers right; anything else is refused with 0A000, never run per shard.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Router } from '../../src/router/router.js';
import type { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';
import { routingSession } from '../support/topology-fixture.js';
import { type AnyRouter, demoRouters, planOutcome } from '../support/unit-plan-outcome.js';

let router: Router;
let mysql: Router<MysqlQueryAnalyzer>;
beforeAll(async () => {
  ({ pg: router, mysql } = await demoRouters());
});

const plan = (sql: string) => router.planSimple(sql, routingSession())[0]!.plan;
const shape = (sql: string, on: AnyRouter = router) => planOutcome(on, sql);

describe('joins and subqueries between sharded tables', () => {
  it.each([
    // joined on the shard keys: each shard answers for its own rows
    ['SELECT count(*) FROM users u JOIN posts p ON p.user_id = u.user_id', 'scatter s0,s1'],
    ['SELECT count(*) FROM users u JOIN posts p USING (user_id)', 'scatter s0,s1'],
    ['SELECT count(*) FROM users u LEFT JOIN posts p ON p.user_id = u.user_id AND p.id > 3', 'scatter s0,s1'],
    [
      'SELECT count(*) FROM users u JOIN posts p ON p.user_id = u.user_id JOIN likes l ON l.user_id = p.user_id',
      'scatter s0,s1',
    ],
    ['SELECT count(*) FROM users WHERE user_id IN (SELECT user_id FROM posts)', 'scatter s0,s1'],
    [
      'SELECT count(*) FROM users u WHERE EXISTS (SELECT 1 FROM posts p WHERE p.user_id = u.user_id AND p.id > 5)',
      'scatter s0,s1',
    ],
    [
      'SELECT u.id FROM users u WHERE u.id > (SELECT min(p.id) FROM posts p WHERE p.user_id = u.user_id) ORDER BY u.id',
      'scatter s0,s1',
    ],
    [
      'SELECT count(*) FROM users u JOIN (SELECT user_id, count(*) AS n FROM posts GROUP BY user_id) p ON p.user_id = u.user_id',
      'scatter s0,s1',
    ],
    [
      'WITH p AS (SELECT user_id FROM posts) SELECT count(*) FROM users u JOIN p ON p.user_id = u.user_id',
      'scatter s0,s1',
    ],
    // pinned to one shard by key values: that shard holds every row the statement can see
    ['SELECT * FROM users u JOIN posts p ON p.id = u.id WHERE u.user_id = 1 AND p.user_id = 1', 'single s1'],
    ['SELECT * FROM users u JOIN posts p ON p.user_id = u.user_id WHERE u.user_id = 2', 'single s0'],
    // reference tables join with anything
    ['SELECT count(*) FROM posts p JOIN trending_topics t ON t.id = p.id', 'scatter s0,s1'],
    // not co-located: one side fetched from its shards and inlined (a cross-shard join), the
    // other side partitions the result, on both ports (MySQL refuses a RIGHT JOIN)
    ['SELECT count(*) FROM users u JOIN posts p ON p.id = u.id', 'broadcast-join'],
    ['SELECT count(*) FROM users WHERE id IN (SELECT id FROM posts)', 'broadcast-join'],
    ['SELECT count(*) FROM payments p JOIN balances b ON b.id = p.id', 'broadcast-join'],
    ['SELECT count(*) FROM users u, posts p', 'broadcast-join'],
    ['SELECT count(*) FROM users u JOIN posts p ON p.user_id = u.user_id OR p.id = u.id', 'broadcast-join'],
    // the same table twice: pinning one occurrence does not pin the other
    ['SELECT count(*) FROM posts a JOIN posts b ON a.id = b.id WHERE a.user_id = 1', 'broadcast-join'],
    ['SELECT * FROM users WHERE user_id = 1 AND id IN (SELECT id FROM posts)', 'broadcast-join'],
    // the other sharded table inside a correlated subquery would not partition the result
    [
      'SELECT count(*) FROM users u WHERE EXISTS (SELECT 1 FROM posts p WHERE p.id = u.id)',
      'error JOIN_NOT_COLOCATED',
    ],
    // the table left behind must never be null-extended (only the nullable side is fetched)
    ['SELECT count(*) FROM users u FULL JOIN posts p ON p.id = u.id', 'error JOIN_NOT_COLOCATED'],
    [
      'SELECT count(*) FROM users u RIGHT JOIN posts p ON p.id = u.id',
      'broadcast-join',
      'error JOIN_NOT_COLOCATED',
    ],
    ['SELECT count(*) FROM users u LEFT JOIN posts p ON p.id = u.id', 'broadcast-join'],
    // a CTE referenced twice is two occurrences
    [
      'WITH p AS (SELECT id, user_id FROM posts) SELECT count(*) FROM p a JOIN p b ON a.id = b.id',
      'error JOIN_NOT_COLOCATED',
    ],
    // different shards pinned: cannot join on one shard, joined across shards
    [
      'SELECT * FROM users u JOIN posts p ON p.id = u.id WHERE u.user_id = 1 AND p.user_id = 2',
      'broadcast-join',
    ],
    // nested blocks that group or limit rows must see one key value at a time
    ['SELECT count(*) FROM (SELECT title FROM posts GROUP BY title) t', 'error SUBQUERY_NOT_SHARD_LOCAL'],
    ['SELECT * FROM (SELECT id FROM posts ORDER BY id LIMIT 3) t', 'error SUBQUERY_NOT_SHARD_LOCAL'],
    [
      'SELECT count(*) FROM users WHERE user_id IN (SELECT user_id FROM posts ORDER BY id LIMIT 3)',
      'error SUBQUERY_NOT_SHARD_LOCAL',
    ],
    ['SELECT count(*) FROM (SELECT user_id FROM posts GROUP BY user_id) t', 'scatter s0,s1'],
    ['SELECT count(*) FROM (SELECT id FROM posts WHERE user_id = 1 LIMIT 3) t', 'single s1'],
    // UPDATE / DELETE with a subquery on another sharded table
    ['DELETE FROM posts WHERE user_id = 1 AND id IN (SELECT id FROM likes)', 'error JOIN_NOT_COLOCATED'],
    [
      'UPDATE posts p SET title = u.name FROM users u WHERE u.user_id = p.user_id AND p.user_id = 1',
      'single s1',
    ],
  ] as Array<[string, string, string?]>)('%s -> %s', (sql, want, mysqlWant) => {
    expect(shape(sql)).toBe(want);
    // The same decision on the MySQL side (UPDATE ... FROM is PostgreSQL only).
    if (!sql.startsWith('UPDATE posts p SET title = u.name FROM'))
      expect(shape(sql, mysql)).toBe(mysqlWant ?? want);
  });

  it('a cross-shard join names the fetched table and the bound', () => {
    const p = plan('SELECT u.name, p.title FROM users u JOIN posts p ON p.id = u.id');
    expect(p).toMatchObject({ type: 'broadcast-join', table: 'posts', form: 'table', site: 1 });
    const q = plan(
      'SELECT count(*) FROM users WHERE id NOT IN (SELECT post_id FROM likes WHERE user_id > 3)',
    );
    expect(q).toMatchObject({ type: 'broadcast-join', table: 'likes', form: 'in-subquery', site: 1 });
    if (q.type === 'broadcast-join') expect(q.maxBytes).toBe(4 * 1024 * 1024);
  });

  it('the refusal names the tables and the condition to add', () => {
    const p = plan('SELECT count(*) FROM users u JOIN posts p ON p.id = u.id JOIN likes l ON l.id = p.id');
    expect(p).toMatchObject({ type: 'error', code: 'JOIN_NOT_COLOCATED' });
    if (p.type !== 'error') return;
    expect(p.params).toMatchObject({ left: 'users', right: 'posts' });
    expect(String(p.params.detail)).toContain('users.user_id = posts.user_id');
  });
});
