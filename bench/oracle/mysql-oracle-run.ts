// The MySQL sides of the oracle: mysql2 on the unsharded MariaDB database and through shardgate's
// MySQL port, compared by the same harness as PostgreSQL (errno 1235 is a refusal).
import { REFUSED_MYSQL_ERRNO } from './compare.js';
import type { Sides } from './harness.js';
import { MYSQL_FLOAT_TYPES, MYSQL_STATEMENT_TIMEOUT_ERRNO, runMysqlStatement } from './mysql-runner.js';
import { mysqlStatementInfo } from './mysql-statement-info.js';
import type { MysqlOracleTopology } from './mysql-topology.js';
import { type OracleRunOptions, type OracleRunResult, runOracle } from './oracle-run.js';
import { DEFAULT_STATEMENT_TIMEOUT_MS, timedRunner } from './timed-runner.js';

/** Both sides with the per-statement time limit; shardgate's side has only the client's bound. */
export function mysqlSides(topology: MysqlOracleTopology, limitMs = DEFAULT_STATEMENT_TIMEOUT_MS): Sides {
  const side = (which: 'oracle' | 'shardgate') =>
    timedRunner({
      connection: { current: () => topology[which], reconnect: () => topology.reconnect(which) },
      limitMs,
      serverLimit:
        which === 'oracle'
          ? (c, ms) => c.query(`SET SESSION max_statement_time = ${(ms / 1000).toFixed(3)}`)
          : null,
      run: runMysqlStatement,
      serverTimeoutCode: MYSQL_STATEMENT_TIMEOUT_ERRNO,
    });
  return {
    oracle: side('oracle'),
    shardgate: side('shardgate'),
    info: mysqlStatementInfo,
    floatTypes: MYSQL_FLOAT_TYPES,
    refusedCode: REFUSED_MYSQL_ERRNO,
    begin: 'BEGIN',
    commit: 'COMMIT',
    rollback: 'ROLLBACK',
  };
}

export function runMysqlOracle(
  topology: MysqlOracleTopology,
  options: OracleRunOptions,
): Promise<OracleRunResult> {
  return runOracle(mysqlSides(topology, options.statementTimeoutMs), 'mysql', options);
}
