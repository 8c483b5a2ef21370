// The MySQL sides of the oracle: mysql2 on the unsharded MariaDB database and through shardgate's
// MySQL port, compared by the same harness as PostgreSQL (errno 1235 is a refusal).
import { REFUSED_MYSQL_ERRNO } from './compare.js';
import type { Sides } from './harness.js';
import { MYSQL_FLOAT_TYPES, mysqlStatementRunner } from './mysql-runner.js';
import { mysqlStatementInfo } from './mysql-statement-info.js';
import type { MysqlOracleTopology } from './mysql-topology.js';
import { type OracleRunOptions, type OracleRunResult, runOracle } from './oracle-run.js';

export function mysqlSides(topology: MysqlOracleTopology): Sides {
  return {
    oracle: mysqlStatementRunner(topology.oracle),
    shardgate: mysqlStatementRunner(topology.shardgate),
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
  return runOracle(mysqlSides(topology), 'mysql', options);
}
