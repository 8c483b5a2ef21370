// How to ask a MySQL/MariaDB server about its replication, and how to tell its operator to set it
// up, in the words that server understands. MySQL 8.4 removed SHOW SLAVE STATUS, START SLAVE and
// CHANGE MASTER TO; SHOW REPLICA STATUS and START REPLICA exist from MariaDB 10.5.1 and MySQL
// 8.0.22, CHANGE REPLICATION SOURCE TO from MySQL 8.0.23 (MariaDB keeps CHANGE MASTER TO), older
// servers know only the SLAVE forms. Decided from @@version, with the other form as the fallback
// when the version string says nothing usable (a fork, a proxy in front): askReplicaStatus tries
// the next statement when the server answers ER_PARSE_ERROR (1064) to one. The lag monitor
// (mysql-prober.ts) and the spare-replica check (migration/mysql-spare-replicas.ts) both read the
// status through here.

export const SHOW_REPLICA_STATUS = 'SHOW REPLICA STATUS';
export const SHOW_SLAVE_STATUS = 'SHOW SLAVE STATUS';

/** MySQL's error for a statement it cannot parse (an older server given SHOW REPLICA STATUS). */
export const ER_PARSE_ERROR = 1064;

type Version = [number, number, number];

interface ServerVersion {
  mariadb: boolean;
  version: Version;
}

const atLeast = (v: Version, min: Version): boolean => {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i]!;
  return true;
};

/** The server's flavour and version from @@version; null when the text says nothing usable. */
function parseVersion(version: string): ServerVersion | null {
  // MariaDB's handshake form "5.5.5-10.6.12-MariaDB" carries the real version after the prefix.
  const text = version.trim().replace(/^5\.5\.5-/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m) return null;
  return { mariadb: /mariadb/i.test(text), version: [Number(m[1]), Number(m[2]), Number(m[3])] };
}

/** True when the server knows the REPLICA words (SHOW REPLICA STATUS, START REPLICA). */
function knowsReplicaWords(v: ServerVersion): boolean {
  return atLeast(v.version, v.mariadb ? [10, 5, 1] : [8, 0, 22]);
}

/** The statements to try in order for a server whose @@version is `version`. */
export function replicaStatusStatements(version: string): string[] {
  const v = parseVersion(version);
  if (!v || knowsReplicaWords(v)) return [SHOW_REPLICA_STATUS, SHOW_SLAVE_STATUS];
  return [SHOW_SLAVE_STATUS];
}

/**
 * Runs `ask` with each statement in turn until the server parses one (`ask` rejects with the
 * server's errno); returns its answer and the statement that worked, so a caller asking again on
 * the same connection can skip the ones that failed.
 */
export async function askReplicaStatus<T>(
  statements: readonly string[],
  ask: (statement: string) => Promise<T>,
): Promise<{ answer: T; statement: string }> {
  for (const [i, statement] of statements.entries()) {
    try {
      return { answer: await ask(statement), statement };
    } catch (err) {
      if ((err as { errno?: number }).errno !== ER_PARSE_ERROR || i === statements.length - 1) throw err;
    }
  }
  throw new Error('askReplicaStatus needs at least one statement');
}

/** A replication status row reduced to what shardgate reads, whichever names the server used. */
export interface ReplicaStatusFacts {
  ioRunning: string;
  sqlRunning: string;
  /** Seconds_Behind_Master / _Source; null when the server reports NULL (not replicating). */
  secondsBehind: number | null;
  /** Server id of the server it replicates from; 0 when it does not say. */
  sourceServerId: number;
  /** MariaDB's Using_Gtid (No / Slave_Pos / Current_Pos); '' on MySQL. */
  usingGtid: string;
  /** MySQL's Auto_Position ('1': by GTID); '' on MariaDB. */
  autoPosition: string;
  lastError: string;
}

/** The status row (column name to value), read by MariaDB / older MySQL or MySQL 8 REPLICA names. */
export function replicaStatusFacts(status: Readonly<Record<string, unknown>>): ReplicaStatusFacts {
  const field = (...names: string[]): string => {
    for (const n of names) if (status[n] !== undefined && status[n] !== null) return String(status[n]);
    return '';
  };
  const behind = field('Seconds_Behind_Master', 'Seconds_Behind_Source');
  return {
    ioRunning: field('Slave_IO_Running', 'Replica_IO_Running'),
    sqlRunning: field('Slave_SQL_Running', 'Replica_SQL_Running'),
    secondsBehind: behind === '' ? null : Number(behind),
    sourceServerId: Number(field('Master_Server_Id', 'Source_Server_Id')) || 0,
    usingGtid: field('Using_Gtid'),
    autoPosition: field('Auto_Position'),
    lastError: field('Last_IO_Error') || field('Last_SQL_Error'),
  };
}

/** The statements an operator runs on a replica, in the words its server accepts. */
export interface ReplicaSetupWords {
  /** Points it at a source by GTID (the host and credentials left to fill in). */
  pointByGtid: string;
  /** Switches an existing channel to GTID positioning. */
  useGtid: string;
  start: string;
}

/** The setup statements for a server whose @@version is `version` (both forms when unknown). */
export function replicaSetupWords(version: string): ReplicaSetupWords {
  const v = parseVersion(version);
  const start = !v
    ? 'START REPLICA (START SLAVE before MariaDB 10.5 / MySQL 8.0.22)'
    : knowsReplicaWords(v)
      ? 'START REPLICA'
      : 'START SLAVE';
  if (v?.mariadb)
    return {
      pointByGtid: `CHANGE MASTER TO MASTER_HOST=..., MASTER_USE_GTID=slave_pos; ${start}`,
      useGtid: 'CHANGE MASTER TO MASTER_USE_GTID=slave_pos',
      start,
    };
  if (v && atLeast(v.version, [8, 0, 23]))
    return {
      pointByGtid: `CHANGE REPLICATION SOURCE TO SOURCE_HOST=..., SOURCE_AUTO_POSITION=1; ${start}`,
      useGtid: 'CHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION=1',
      start,
    };
  if (v)
    return {
      pointByGtid: `CHANGE MASTER TO MASTER_HOST=..., MASTER_AUTO_POSITION=1; ${start}`,
      useGtid: 'CHANGE MASTER TO MASTER_AUTO_POSITION=1',
      start,
    };
  return {
    pointByGtid: `CHANGE MASTER TO MASTER_HOST=..., MASTER_USE_GTID=slave_pos (MySQL 8.0.23+: CHANGE REPLICATION SOURCE TO SOURCE_HOST=..., SOURCE_AUTO_POSITION=1); ${start}`,
    useGtid:
      'CHANGE MASTER TO MASTER_USE_GTID=slave_pos (MySQL 8.0.23+: CHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION=1)',
    start,
  };
}
