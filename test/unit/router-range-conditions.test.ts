// Range conditions on a range-sharded key (SQL in, plan out): only the shards whose ranges the
// condition meets. users is range-sharded here: s0 holds user_id < 1000, s1 the rest.
import { beforeAll, describe, expect, it } from 'vitest';
import { Router } from '../../src/router/router.js';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';
import { demoConfig, demoTopology, routingSession } from '../support/topology-fixture.js';

const ranged = (from: number | string | null, mid: number | string, to: number | string | null) => ({
  ...demoConfig().tables,
  users: {
    ...demoConfig().tables.users!,
    method: 'range' as const,
    ranges: [
      { shard: 's0', from, to: mid },
      { shard: 's1', from: mid, to },
    ],
  },
});

let numeric: Router;
let text: Router;
let mysql: Router<MysqlQueryAnalyzer>;
beforeAll(async () => {
  const analyzer = await QueryAnalyzer.create({ cacheSize: 100 });
  const a = demoTopology({ tables: ranged(null, 1000, null) });
  const b = demoTopology({ tables: ranged(null, 'm', null) });
  numeric = new Router(analyzer, { view: () => a });
  text = new Router(analyzer, { view: () => b });
  mysql = new Router(await MysqlQueryAnalyzer.create({ cacheSize: 100 }), { view: () => a });
});

const shards = (router: Router | Router<MysqlQueryAnalyzer>, sql: string, params: string[] = []) => {
  const p = router.planWithValues(sql, routingSession(), params)[0]!.plan;
  if (p.type === 'single') return [p.target.shard];
  if (p.type === 'scatter') return p.targets.map((t) => t.shard);
  return p.type;
};

describe('range conditions on a range-sharded table', () => {
  it.each([
    ['SELECT * FROM users WHERE user_id BETWEEN 10 AND 20', ['s0']],
    ['SELECT * FROM users WHERE user_id BETWEEN 990 AND 1010', ['s0', 's1']],
    ['SELECT * FROM users WHERE user_id >= 1000', ['s1']],
    ['SELECT * FROM users WHERE user_id < 1000', ['s0']],
    ['SELECT * FROM users WHERE user_id <= 1000', ['s0', 's1']],
    ['SELECT * FROM users WHERE 1000 <= user_id', ['s1']],
    ['SELECT * FROM users WHERE user_id > 5 AND user_id < 50', ['s0']],
    // No value can match: any one shard gives the (empty) answer.
    ['SELECT * FROM users WHERE user_id > 5000 AND user_id < 50', ['s0']],
    ['SELECT * FROM users WHERE user_id > $1', ['s1'], ['1200']],
    ['SELECT * FROM users WHERE user_id > 5 OR user_id < 2000', ['s0', 's1']],
    ['SELECT * FROM users WHERE user_id NOT BETWEEN 10 AND 20', ['s0', 's1']],
  ] as Array<[string, string[], string[]?]>)('%s -> %j', (sql, want, params) => {
    expect(shards(numeric, sql, params)).toEqual(want);
    // The same on the MySQL side (placeholders are `?` there).
    expect(shards(mysql, sql.replace('$1', '?'), params)).toEqual(want);
  });

  it('writes too: an UPDATE over one shard range needs no scatterWrites', () => {
    expect(shards(numeric, "UPDATE users SET name = 'x' WHERE user_id BETWEEN 1 AND 9")).toEqual(['s0']);
  });

  it('text bounds do not narrow (the database collation decides text order)', () => {
    expect(shards(text, "SELECT * FROM users WHERE user_id < 'c'")).toEqual(['s0', 's1']);
  });
});
