// The PostgreSQL sides of the oracle: node-postgres on the unsharded database and through shardgate.
import { loadModule } from 'libpg-query';
import type { Sides } from './harness.js';
import { type OracleRunOptions, type OracleRunResult, runOracle } from './oracle-run.js';
import { PG_FLOAT_TYPES, PG_STATEMENT_TIMEOUT_SQLSTATE, runPgStatement } from './pg-runner.js';
import type { PgOracleTopology } from './pg-topology.js';
import { pgStatementInfo } from './statement-info.js';
import { DEFAULT_STATEMENT_TIMEOUT_MS, timedRunner } from './timed-runner.js';

/** Both sides with the per-statement time limit; shardgate's side has only the client's bound. */
export function pgSides(topology: PgOracleTopology, limitMs = DEFAULT_STATEMENT_TIMEOUT_MS): Sides {
  const side = (which: 'oracle' | 'shardgate') =>
    timedRunner({
      connection: { current: () => topology[which], reconnect: () => topology.reconnect(which) },
      limitMs,
      serverLimit: which === 'oracle' ? (c, ms) => c.query(`SET statement_timeout = ${ms}`) : null,
      run: runPgStatement,
      serverTimeoutCode: PG_STATEMENT_TIMEOUT_SQLSTATE,
    });
  return {
    oracle: side('oracle'),
    shardgate: side('shardgate'),
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
  return runOracle(pgSides(topology, options.statementTimeoutMs), 'postgres', options);
}
