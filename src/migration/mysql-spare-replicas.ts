// The MySQL/MariaDB part of the spare-replica check (spare-replicas.ts): a spare's replica must
// replicate from that spare by GTID with both threads running, and be read-only. The switch fences
// it at the spare's GTID position and the lag monitor compares its @@gtid_slave_pos with the
// spare's @@gtid_binlog_pos; a replica of another server, a stopped one, one by binlog file and
// offset or a writable one would serve stale reads or none, without a word.

import { ER_PARSE_ERROR, replicaStatusStatements } from '../backend/mysql-replica-status.js';
import { type MysqlConnection, openMysql } from './mysql-table.js';
import { mysqlServerAddress } from './plan.js';
import type { ReplicaCheck, ReplicaNames } from './spare-replicas.js';

/** What a MySQL/MariaDB replica reports about itself. */
export interface MysqlReplicaFacts {
  serverId: number;
  readOnly: boolean;
  /** SHOW REPLICA (or SLAVE) STATUS's row; null when the server replicates from nobody. */
  status: Record<string, unknown> | null;
}

/** A column of the status row by its MariaDB / older MySQL name or MySQL 8's REPLICA name. */
function field(status: Record<string, unknown>, ...names: string[]): string {
  for (const n of names) if (status[n] !== undefined && status[n] !== null) return String(status[n]);
  return '';
}

/** Why the replica cannot serve as the spare's replica, saying what to do; null when it can. */
export function mysqlReplicaProblem(
  seen: MysqlReplicaFacts,
  spareServerId: number,
  names: ReplicaNames,
): string | null {
  const { replica, target } = names;
  const point = `point it at ${target} by GTID (CHANGE MASTER TO MASTER_HOST=..., MASTER_USE_GTID=slave_pos; START SLAVE) or remove it from migration.spares`;
  if (seen.serverId === spareServerId)
    return `replica ${replica} has the server_id of target ${target} (${spareServerId}), so it skips every event ${target} logs; give it its own server_id or remove it from migration.spares`;
  const status = seen.status;
  if (!status)
    return `replica ${replica} of target ${target} replicates from nobody (SHOW REPLICA STATUS is empty); ${point}`;
  const masterId = Number(field(status, 'Master_Server_Id', 'Source_Server_Id'));
  if (masterId > 0 && masterId !== spareServerId)
    return `replica ${replica} is not a replica of target ${target} (its master has server_id ${masterId}, ${target} has ${spareServerId}); ${point}`;
  const io = field(status, 'Slave_IO_Running', 'Replica_IO_Running');
  const sql = field(status, 'Slave_SQL_Running', 'Replica_SQL_Running');
  if (io !== 'Yes' || sql !== 'Yes') {
    const error = field(status, 'Last_IO_Error') || field(status, 'Last_SQL_Error');
    return `replica ${replica} of target ${target} is not replicating (IO thread ${io || 'absent'}, SQL thread ${sql || 'absent'}${error ? `: ${error}` : ''}); fix it and START SLAVE, or remove it from migration.spares`;
  }
  if (masterId !== spareServerId)
    return `replica ${replica} of target ${target} does not say which server it replicates from (Master_Server_Id ${masterId}); ${point}`;
  // MariaDB: Using_Gtid Slave_Pos/Current_Pos; MySQL: Auto_Position 1.
  const usingGtid = field(status, 'Using_Gtid');
  const autoPosition = field(status, 'Auto_Position');
  if (usingGtid === 'No' || (usingGtid === '' && autoPosition !== '1'))
    return `replica ${replica} of target ${target} replicates by binlog file and offset, not by GTID (the switch fences it by GTID position); CHANGE MASTER TO MASTER_USE_GTID=slave_pos (MySQL: SOURCE_AUTO_POSITION=1) on it, or remove it from migration.spares`;
  if (!seen.readOnly)
    return `replica ${replica} of target ${target} is writable (read_only is OFF), so the lag monitor keeps it out of rotation; SET GLOBAL read_only = ON on it, or remove it from migration.spares`;
  return null;
}

/** The replication status row (null: replicates from nobody), by the statement the server knows. */
async function replicaStatus(c: MysqlConnection, version: string): Promise<Record<string, unknown> | null> {
  const statements = replicaStatusStatements(version);
  for (const [i, sql] of statements.entries()) {
    try {
      return ((await c.query(sql))[0] as Array<Record<string, unknown>>)[0] ?? null;
    } catch (err) {
      if ((err as { errno?: number }).errno !== ER_PARSE_ERROR || i === statements.length - 1) throw err;
    }
  }
  return null;
}

async function serverFacts(address: Parameters<typeof openMysql>[0], withStatus: boolean) {
  const c = await openMysql(address);
  try {
    const [rows] = await c.query('SELECT @@server_id AS id, @@read_only AS ro, @@version AS v');
    const row = (rows as Array<{ id: number | string; ro: number | string; v: string }>)[0]!;
    const status = withStatus ? await replicaStatus(c, String(row.v)) : null;
    return { serverId: Number(row.id), readOnly: Number(row.ro) === 1, status };
  } finally {
    await c.end().catch(() => undefined);
  }
}

export const mysqlReplicaCheck: ReplicaCheck<number> = {
  address: mysqlServerAddress,
  own: async (target) => (await serverFacts(target, false)).serverId,
  problem: async (replica, spareServerId, names) =>
    mysqlReplicaProblem(await serverFacts(replica, true), spareServerId, names),
};
