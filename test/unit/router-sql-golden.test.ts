// Golden plans from SQL text: the real analyzer (libpg-query) and planner on the demo topology
// (users range-sharded in the `ranges` group), rendered to test/golden/plans/<group>.json.
// Regenerate deliberately with UPDATE_GOLDEN=1.
import { beforeAll, describe, expect, it } from 'vitest';
import type { TopologyView } from '../../src/router/inputs.js';
import { Router } from '../../src/router/router.js';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { type GoldenEntry, goldenGroup, renderGroup } from '../support/golden-files.js';
import { demoConfig, demoTopology, routingSession } from '../support/topology-fixture.js';

const rangeTopology = (): TopologyView =>
  demoTopology({
    tables: {
      ...demoConfig().tables,
      users: {
        ...demoConfig().tables.users!,
        method: 'range',
        ranges: [
          { shard: 's0', from: null, to: 1000 },
          { shard: 's1', from: 1000, to: null },
        ],
      },
    },
  });

const GROUPS: Record<string, { topology?: () => TopologyView; cases: Record<string, string> }> = {
  colocation: {
    cases: {
      'join on the shard keys: per shard':
        'SELECT count(*) FROM users u JOIN posts p ON p.user_id = u.user_id',
      'join on another column: joined across shards':
        'SELECT count(*) FROM users u JOIN posts p ON p.id = u.id',
      'IN subquery on another column: joined across shards':
        'SELECT count(*) FROM users WHERE id IN (SELECT id FROM posts)',
      'IN subquery on the shard key: per shard':
        'SELECT count(*) FROM users WHERE user_id IN (SELECT user_id FROM posts)',
      'payments and balances joined by id: joined across shards':
        'SELECT count(*) FROM payments p JOIN balances b ON b.id = p.id',
      'both sides pinned to one shard':
        'SELECT * FROM users u JOIN posts p ON p.id = u.id WHERE u.user_id = 1 AND p.user_id = 1',
      'correlated EXISTS on the shard key':
        'SELECT count(*) FROM users u WHERE EXISTS (SELECT 1 FROM likes l WHERE l.user_id = u.user_id)',
      'grouped derived table not by the key: refused':
        'SELECT count(*) FROM (SELECT title FROM posts GROUP BY title) t',
      'reference table joins with anything':
        'SELECT p.id, t.topic FROM posts p JOIN trending_topics t ON t.id = p.id',
    },
  },
  'key-writes': {
    cases: {
      'shard key moved to another shard: the rows move':
        'UPDATE users SET user_id = 700202 WHERE user_id = 700003',
      'shard key set to an expression: refused':
        'UPDATE users SET user_id = user_id + 1 WHERE user_id = 700003',
      'shard key kept on its shard': 'UPDATE users SET user_id = 4 WHERE user_id = 2',
      'known keys on two shards: one statement per owning primary':
        "UPDATE users SET name = 'x' WHERE user_id IN (1, 2, 3)",
      'DELETE with = ANY(ARRAY[...])': 'DELETE FROM likes WHERE user_id = ANY(ARRAY[1, 2])',
      'no key: refused without scatterWrites': 'DELETE FROM likes WHERE post_id = 7',
    },
  },
  ranges: {
    topology: rangeTopology,
    cases: {
      'BETWEEN inside one range': 'SELECT * FROM users WHERE user_id BETWEEN 10 AND 20',
      'BETWEEN across the boundary': 'SELECT * FROM users WHERE user_id BETWEEN 990 AND 1010',
      '>= the boundary': 'SELECT * FROM users WHERE user_id >= 1000',
      '< with > on the same key': 'SELECT * FROM users WHERE user_id > 5 AND user_id < 50',
    },
  },
};

let analyzer: QueryAnalyzer;
beforeAll(async () => {
  analyzer = await QueryAnalyzer.create({ cacheSize: 100 });
});

/** A PostgreSQL session's view: it moves rows, and cross-shard transactions are on (the default). */
const pgSession = routingSession({ crossShardTransactions: true });

describe('golden plans from SQL', () => {
  for (const [group, { topology, cases }] of Object.entries(GROUPS)) {
    it(group, () => {
      const view = (topology ?? (() => demoTopology()))();
      const router = new Router(analyzer, { view: () => view });
      const entries: Record<string, GoldenEntry> = {};
      for (const [name, sql] of Object.entries(cases))
        entries[name] = { statement: sql, plan: router.planSimple(sql, pgSession)[0]!.plan };
      const actual = renderGroup(entries);
      expect(actual).toEqual(goldenGroup(group, actual));
    });
  }
});
