// Golden plans from MySQL SQL text: the real MySQL analyzer (node-sql-parser), planner and
// per-shard rewrite on the demo topology, rendered to test/golden/plans/mysql-<group>.json (the
// twin of router-sql-golden.test.ts for the other dialect). Regenerate deliberately with
// UPDATE_GOLDEN=1.
import { describe, expect, it } from 'vitest';
import { MYSQL_ROUTER_DIALECT } from '../../src/protocol/mysql/router-dialect.js';
import { Router } from '../../src/router/router.js';
import { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';
import { type GoldenEntry, goldenGroup, renderGroup } from '../support/golden-files.js';
import { demoTopology, routingSession } from '../support/topology-fixture.js';

const GROUPS: Record<string, Record<string, string>> = {
  'mysql-scatter': {
    'point read by the shard key': 'SELECT * FROM posts WHERE user_id = 7',
    'ordered, paged scatter: LIMIT n+m per shard': 'SELECT id, title FROM posts ORDER BY id DESC LIMIT 5, 10',
    'avg: sum and count per shard': 'SELECT user_id, avg(amount) FROM payments GROUP BY user_id ORDER BY 1',
    'aggregates inside expressions: the program':
      'SELECT round(avg(amount), 2) AS a, max(id) - min(id) AS s FROM payments',
    'count(DISTINCT) across shards': 'SELECT count(DISTINCT status) AS v FROM payments',
    'ordered GROUP_CONCAT with a separator':
      "SELECT user_id, group_concat(title ORDER BY title, id SEPARATOR ';') FROM posts GROUP BY user_id ORDER BY 1",
    'population statistics': 'SELECT stddev(amount), var_samp(amount) FROM payments',
    'HAVING over an expression':
      'SELECT user_id FROM likes GROUP BY user_id HAVING max(id) - min(id) > 3 ORDER BY 1',
    'INTERSECT: evaluated at the proxy': 'SELECT user_id FROM posts INTERSECT SELECT user_id FROM likes',
    'a string constant over aggregates: refused': "SELECT count(*) > 'x' FROM posts",
  },
  'mysql-colocation': {
    'join on the shard keys: per shard': 'SELECT count(*) FROM users u JOIN posts p ON p.user_id = u.user_id',
    'join on another column: across shards': 'SELECT count(*) FROM users u JOIN posts p ON p.id = u.id',
    'IN subquery on another column: across shards':
      'SELECT count(*) FROM users WHERE id IN (SELECT id FROM posts)',
    'reference table joins with anything':
      'SELECT p.id, t.topic FROM posts p JOIN trending_topics t ON t.id = p.id',
  },
  'mysql-key-writes': {
    'split INSERT by key': "INSERT INTO posts (id, user_id, title) VALUES (1, 1, 'a'), (2, 2, 'b')",
    'known keys: one statement per owning primary': "UPDATE users SET name = 'x' WHERE user_id IN (1, 2, 3)",
    'shard key moved to another shard: refused': 'UPDATE users SET user_id = 700202 WHERE user_id = 700003',
    'no key: refused without scatterWrites': 'DELETE FROM likes WHERE post_id = 7',
  },
};

describe('golden plans from MySQL SQL', () => {
  for (const [group, cases] of Object.entries(GROUPS)) {
    it(group, () => {
      const view = demoTopology();
      const router = new Router(
        new MysqlQueryAnalyzer({ cacheSize: 100 }),
        { view: () => view },
        MYSQL_ROUTER_DIALECT,
      );
      const entries: Record<string, GoldenEntry> = {};
      for (const [name, sql] of Object.entries(cases))
        entries[name] = { statement: sql, plan: router.planSimple(sql, routingSession())[0]!.plan };
      const actual = renderGroup(entries);
      expect(actual).toEqual(goldenGroup(group, actual));
    });
  }
});
