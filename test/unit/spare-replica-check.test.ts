// The decision of the spare-replica check (spare-replicas.ts, mysql-spare-replicas.ts): which
// replica a migration refuses and what the refusal tells the operator to do.
import { describe, expect, it } from 'vitest';
import { type MysqlReplicaFacts, mysqlReplicaProblem } from '../../src/migration/mysql-spare-replicas.js';
import { pgReplicaProblem } from '../../src/migration/spare-replicas.js';

const names = { replica: 'spare1-replica1', target: 'spare1' };
const SPARE_ID = 100100;
const MYSQL_84 = '8.4.3';

/** A MariaDB GTID replica of the spare, both threads running, read-only. */
function streaming(
  status: Record<string, unknown> = {},
  facts: Partial<MysqlReplicaFacts> = {},
): MysqlReplicaFacts {
  return {
    serverId: 100101,
    readOnly: true,
    version: '10.11.6-MariaDB-log',
    status: {
      Master_Server_Id: SPARE_ID,
      Slave_IO_Running: 'Yes',
      Slave_SQL_Running: 'Yes',
      Using_Gtid: 'Slave_Pos',
      Last_IO_Error: '',
      Last_SQL_Error: '',
      ...status,
    },
    ...facts,
  };
}

describe('a MySQL spare replica', () => {
  it('passes when it replicates from the spare by GTID, running and read-only', () => {
    expect(mysqlReplicaProblem(streaming(), SPARE_ID, names)).toBeNull();
    expect(mysqlReplicaProblem(streaming({ Using_Gtid: 'Current_Pos' }), SPARE_ID, names)).toBeNull();
  });

  it('passes MySQL 8 SHOW REPLICA STATUS names with auto-positioning', () => {
    const status = {
      Source_Server_Id: SPARE_ID,
      Replica_IO_Running: 'Yes',
      Replica_SQL_Running: 'Yes',
      Auto_Position: 1,
    };
    expect(
      mysqlReplicaProblem({ serverId: 7, readOnly: true, version: MYSQL_84, status }, SPARE_ID, names),
    ).toBeNull();
    expect(
      mysqlReplicaProblem(
        { serverId: 7, readOnly: true, version: MYSQL_84, status: { ...status, Auto_Position: 0 } },
        SPARE_ID,
        names,
      ),
    ).toMatch(/not by GTID.*; CHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION=1 on it/);
  });

  it('refuses a server that replicates from nobody', () => {
    expect(mysqlReplicaProblem(streaming({}, { status: null }), SPARE_ID, names)).toMatch(
      /spare1-replica1 of target spare1 replicates from nobody.*MASTER_USE_GTID=slave_pos.*remove it from migration.spares/,
    );
  });

  it('refuses a replica of another server', () => {
    expect(mysqlReplicaProblem(streaming({ Master_Server_Id: 200 }), SPARE_ID, names)).toMatch(
      /not a replica of target spare1 \(its master has server_id 200, spare1 has 100100\)/,
    );
  });

  it('refuses a replica whose threads are stopped, with its error', () => {
    expect(
      mysqlReplicaProblem(
        streaming({ Slave_IO_Running: 'Connecting', Last_IO_Error: 'error connecting to master' }),
        SPARE_ID,
        names,
      ),
    ).toMatch(
      /not replicating \(IO thread Connecting, SQL thread Yes: error connecting to master\); fix it and START REPLICA,/,
    );
    expect(mysqlReplicaProblem(streaming({ Slave_SQL_Running: 'No' }), SPARE_ID, names)).toMatch(
      /not replicating \(IO thread Yes, SQL thread No\)/,
    );
    // Never connected: no master id to compare, the stopped thread is the problem to fix first.
    expect(
      mysqlReplicaProblem(streaming({ Master_Server_Id: 0, Slave_IO_Running: 'No' }), SPARE_ID, names),
    ).toMatch(/not replicating/);
  });

  it('refuses replication by binlog file and offset', () => {
    expect(mysqlReplicaProblem(streaming({ Using_Gtid: 'No' }), SPARE_ID, names)).toMatch(
      /replicates by binlog file and offset, not by GTID/,
    );
  });

  it("refuses a writable replica and one with the spare's server_id", () => {
    expect(mysqlReplicaProblem(streaming({}, { readOnly: false }), SPARE_ID, names)).toMatch(
      /is writable \(read_only is OFF\).*SET GLOBAL read_only = ON/,
    );
    expect(mysqlReplicaProblem(streaming({}, { serverId: SPARE_ID }), SPARE_ID, names)).toMatch(
      /has the server_id of target spare1 \(100100\), so it skips every event/,
    );
  });
});

describe('the statements a MySQL refusal names', () => {
  // MySQL 8.4 parses neither START SLAVE nor CHANGE MASTER TO; MariaDB keeps CHANGE MASTER TO.
  const stopped = (version: string) =>
    mysqlReplicaProblem(streaming({ Slave_IO_Running: 'No' }, { version }), SPARE_ID, names);
  const nobody = (version: string) =>
    mysqlReplicaProblem(streaming({}, { version, status: null }), SPARE_ID, names);

  it('are the REPLICA forms on MySQL 8.4 and MariaDB 10.5+', () => {
    expect(stopped(MYSQL_84)).toMatch(/fix it and START REPLICA,/);
    expect(nobody(MYSQL_84)).toMatch(
      /\(CHANGE REPLICATION SOURCE TO SOURCE_HOST=\.\.\., SOURCE_AUTO_POSITION=1; START REPLICA\)/,
    );
    expect(nobody('5.5.5-10.11.6-MariaDB')).toMatch(
      /\(CHANGE MASTER TO MASTER_HOST=\.\.\., MASTER_USE_GTID=slave_pos; START REPLICA\)/,
    );
    for (const v of [MYSQL_84, '10.11.6-MariaDB']) {
      expect(stopped(v)).not.toMatch(/SLAVE/);
      expect(nobody(v)).not.toMatch(/SLAVE/);
    }
  });

  it('are the SLAVE forms on servers that know only those', () => {
    expect(stopped('10.4.32-MariaDB')).toMatch(/fix it and START SLAVE,/);
    expect(nobody('5.7.44-log')).toMatch(
      /\(CHANGE MASTER TO MASTER_HOST=\.\.\., MASTER_AUTO_POSITION=1; START SLAVE\)/,
    );
    // MySQL 8.0.22 has START REPLICA, but CHANGE REPLICATION SOURCE TO only from 8.0.23.
    expect(nobody('8.0.22')).toMatch(
      /\(CHANGE MASTER TO MASTER_HOST=\.\.\., MASTER_AUTO_POSITION=1; START REPLICA\)/,
    );
  });

  it('are both forms when the version says nothing usable', () => {
    expect(stopped('unknown-fork')).toMatch(/START REPLICA \(START SLAVE before MariaDB 10\.5/);
    expect(nobody('')).toMatch(/MASTER_USE_GTID=slave_pos \(MySQL 8\.0\.23\+: CHANGE REPLICATION SOURCE TO/);
  });
});

describe('a PostgreSQL spare replica', () => {
  it('passes a standby with the spare system identifier, refuses anything else', () => {
    expect(pgReplicaProblem({ inRecovery: true, systemIdentifier: '42' }, '42', names)).toBeNull();
    expect(pgReplicaProblem({ inRecovery: false, systemIdentifier: '42' }, '42', names)).toMatch(
      /is not a standby \(it is not in recovery\); seed it from spare1 \(pg_basebackup -R\)/,
    );
    expect(pgReplicaProblem({ inRecovery: true, systemIdentifier: '43' }, '42', names)).toMatch(
      /is not a standby of target spare1 \(system identifier 43, spare1 has 42\)/,
    );
  });
});
