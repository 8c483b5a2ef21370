// The PostgreSQL sides of the oracle: node-postgres on the unsharded database and through shardgate.
import { loadModule } from 'libpg-query';
import type { Sides } from './harness.js';
import { type OracleRunOptions, type OracleRunResult, runOracle } from './oracle-run.js';
import { PG_FLOAT_TYPES, pgStatementRunner } from './pg-runner.js';
import type { PgOracleTopology } from './pg-topology.js';
import { pgStatementInfo } from './statement-info.js';

export function pgSides(topology: PgOracleTopology): Sides {
  return {
    oracle: pgStatementRunner(topology.oracle),
    shardgate: pgStatementRunner(topology.shardgate),
    info: pgStatementInfo,
    floatTypes: PG_FLOAT_TYPES,
    refusedCode: '0A000',
    begin: 'BEGIN',
    commit: 'COMMIT',
    rollback: 'ROLLBACK',
  };
}

export type PgRunResult = OracleRunResult;

export async function runPgOracle(
  topology: PgOracleTopology,
  options: OracleRunOptions,
): Promise<PgRunResult> {
  await loadModule(); // statement-info parses with libpg-query
  return runOracle(pgSides(topology), 'postgres', options);
}
