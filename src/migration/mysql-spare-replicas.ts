// The MySQL/MariaDB part of the spare-replica check (spare-replicas.ts): a spare's replica must
// replicate from that spare by GTID with both threads running, and be read-only. The switch fences
// it at the spare's GTID position and the lag monitor compares its @@gtid_slave_pos with the
// spare's @@gtid_binlog_pos; a replica of another server, a stopped one, one by binlog file and
// offset or a writable one would serve stale reads or none, without a word.

import {
  askReplicaStatus,
  replicaSetupWords,
  replicaStatusFacts,
  replicaStatusStatements,
} from '../backend/mysql-replica-status.js';
import { type MysqlConnection, withMysql } from './mysql-table.js';
import { mysqlServerAddress } from './plan.js';
import type { ReplicaCheck, ReplicaNames } from './spare-replicas.js';
import type { ServerAddress } from './types.js';

/** What a MySQL/MariaDB replica reports about itself. */
export interface MysqlReplicaFacts {
  serverId: number;
  readOnly: boolean;
  /** @@version: the refusals name the statements this server accepts. */
  version: string;
  /** SHOW REPLICA (or SLAVE) STATUS's row; null when the server replicates from nobody. */
  status: Record<string, unknown> | null;
}

/** Why the replica cannot serve as the spare's replica, saying what to do; null when it can. */
export function mysqlReplicaProblem(
  seen: MysqlReplicaFacts,
  spareServerId: number,
  names: ReplicaNames,
): string | null {
  const { replica, target } = names;
  const words = replicaSetupWords(seen.version);
  const point = `point it at ${target} by GTID (${words.pointByGtid}) or remove it from migration.spares`;
  if (seen.serverId === spareServerId)
    return `replica ${replica} has the server_id of target ${target} (${spareServerId}), so it skips every event ${target} logs; give it its own server_id or remove it from migration.spares`;
  if (!seen.status)
    return `replica ${replica} of target ${target} replicates from nobody (SHOW REPLICA STATUS is empty); ${point}`;
  const status = replicaStatusFacts(seen.status);
  const masterId = status.sourceServerId;
  if (masterId > 0 && masterId !== spareServerId)
    return `replica ${replica} is not a replica of target ${target} (its master has server_id ${masterId}, ${target} has ${spareServerId}); ${point}`;
  const { ioRunning: io, sqlRunning: sql, lastError: error } = status;
  if (io !== 'Yes' || sql !== 'Yes')
    return `replica ${replica} of target ${target} is not replicating (IO thread ${io || 'absent'}, SQL thread ${sql || 'absent'}${error ? `: ${error}` : ''}); fix it and ${words.start}, or remove it from migration.spares`;
  if (masterId !== spareServerId)
    return `replica ${replica} of target ${target} does not say which server it replicates from (Master_Server_Id ${masterId}); ${point}`;
  // MariaDB: Using_Gtid Slave_Pos/Current_Pos; MySQL: Auto_Position 1.
  const { usingGtid, autoPosition } = status;
  if (usingGtid === 'No' || (usingGtid === '' && autoPosition !== '1'))
    return `replica ${replica} of target ${target} replicates by binlog file and offset, not by GTID (the switch fences it by GTID position); ${words.useGtid} on it, or remove it from migration.spares`;
  if (!seen.readOnly)
    return `replica ${replica} of target ${target} is writable (read_only is OFF), so the lag monitor keeps it out of rotation; SET GLOBAL read_only = ON on it, or remove it from migration.spares`;
  return null;
}

/** The replication status row (null: replicates from nobody), by the statement the server knows. */
async function replicaStatus(c: MysqlConnection, version: string): Promise<Record<string, unknown> | null> {
  const { answer } = await askReplicaStatus(replicaStatusStatements(version), async (sql) => {
    const [rows] = await c.query(sql);
    return (rows as Array<Record<string, unknown>>)[0] ?? null;
  });
  return answer;
}

async function serverFacts(address: ServerAddress, withStatus: boolean) {
  return withMysql(address, async (c) => {
    const [rows] = await c.query('SELECT @@server_id AS id, @@read_only AS ro, @@version AS v');
    const row = (rows as Array<{ id: number | string; ro: number | string; v: string }>)[0]!;
    const status = withStatus ? await replicaStatus(c, String(row.v)) : null;
    return { serverId: Number(row.id), readOnly: Number(row.ro) === 1, version: String(row.v), status };
  });
}

export const mysqlReplicaCheck: ReplicaCheck<number> = {
  address: mysqlServerAddress,
  own: async (target) => (await serverFacts(target, false)).serverId,
  problem: async (replica, spareServerId, names) =>
    mysqlReplicaProblem(await serverFacts(replica, true), spareServerId, names),
};
