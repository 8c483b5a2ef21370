// Planner tests, SQL in and plan out: both front ends' routers on the demo topology (user 1 -> s1,
// 2 and 4 -> s0), and a plan told in one line ("single s0", "scatter s0,s1", "error CODE").
import { Router } from '../../src/router/router.js';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';
import { demoTopology, routingSession } from './topology-fixture.js';

export type AnyRouter = Router | Router<MysqlQueryAnalyzer>;

/** A PostgreSQL and a MySQL router over one demo topology. */
export async function demoRouters(): Promise<{ pg: Router; mysql: Router<MysqlQueryAnalyzer> }> {
  const topology = demoTopology();
  return {
    pg: new Router(await QueryAnalyzer.create({ cacheSize: 100 }), { view: () => topology }),
    mysql: new Router(await MysqlQueryAnalyzer.create({ cacheSize: 100 }), { view: () => topology }),
  };
}

/** The first unit's plan in one line: its type, with the shards or the error code. */
export function planOutcome(router: AnyRouter, sql: string, params: string[] = []): string {
  const p = router.planWithValues(sql, routingSession(), params)[0]!.plan;
  if (p.type === 'error') return `error ${p.code}`;
  if (p.type === 'single') return `single ${p.target.shard}`;
  if (p.type === 'scatter') return `scatter ${p.targets.map((t) => t.shard).join(',')}`;
  return p.type;
}

/** SQL, the outcome wanted, and the parameter values. */
export type OutcomeCase = [sql: string, want: string, params?: string[]];

/**
 * `it.each` rows `[dialect, sql, want, params]`: the cases both dialects spell the same way run on
 * both front ends, then each dialect's own.
 */
export function byDialect(
  both: OutcomeCase[],
  postgresOnly: OutcomeCase[],
  mysqlOnly: OutcomeCase[],
): Array<['postgres' | 'mysql', string, string, string[] | undefined]> {
  const rows = (dialect: 'postgres' | 'mysql', cases: OutcomeCase[]) =>
    cases.map(
      ([sql, want, params]) =>
        [dialect, sql, want, params] as ['postgres' | 'mysql', string, string, string[] | undefined],
    );
  return [...rows('postgres', [...both, ...postgresOnly]), ...rows('mysql', [...both, ...mysqlOnly])];
}
