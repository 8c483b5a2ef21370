// Root connections to local MariaDB servers and the GTID replication statements the launcher runs.
import mysql from 'mysql2/promise';

export type Connection = mysql.Connection;

interface Endpoint {
  name: string;
  host: string;
  port: number;
}

/** Root over TCP without password, as the tests and the proxy's backend pools connect. */
export async function openConnection(
  server: Endpoint,
  database: string | null,
  timeoutMs = 5_000,
): Promise<Connection> {
  const c = await mysql.createConnection({
    host: server.host,
    port: server.port,
    user: 'root',
    password: '',
    ...(database ? { database } : {}),
    connectTimeout: timeoutMs,
    supportBigNumbers: true,
  });
  // A server killed under an idle connection must not crash us with an unhandled 'error'.
  c.on('error', () => undefined);
  return c;
}

/**
 * (Re)points a replica at its primary by GTID (MASTER_USE_GTID=slave_pos: resume from the last
 * transaction this replica applied) and starts both threads. MASTER_CONNECT_RETRY=1 lets a
 * replica reconnect within a second after its primary restarts (the default waits 60 s). The
 * REPLICA words (MariaDB 10.5.1+, which binlog_row_metadata needs anyway); MariaDB has no CHANGE
 * REPLICATION SOURCE TO, so CHANGE MASTER TO stays.
 */
export async function startReplication(c: Connection, primary: Endpoint, delaySeconds = 0): Promise<void> {
  await c.query('STOP REPLICA');
  await c.query(
    `CHANGE MASTER TO MASTER_HOST='${primary.host}', MASTER_PORT=${primary.port}, MASTER_USER='root', ` +
      `MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_DELAY=${delaySeconds}`,
  );
  await c.query('START REPLICA');
}

/** True once the replica's @@gtid_slave_pos covers `pos`, false after timeoutMs. */
export async function waitForGtid(c: Connection, pos: string, timeoutMs: number): Promise<boolean> {
  const [rows] = await c.query('SELECT MASTER_GTID_WAIT(?, ?) AS r', [pos, Math.max(0, timeoutMs) / 1000]);
  return Number((rows as Array<{ r: number | string }>)[0]?.r) === 0;
}

export interface ReplicaStatus {
  /** Slave_Pos when replicating by GTID. */
  usingGtid: string;
  ioRunning: string;
  sqlRunning: string;
  /** Last GTID applied (@@gtid_slave_pos). */
  gtidSlavePos: string;
  /** Last GTID fetched into the relay log. */
  gtidIoPos: string;
  sqlDelay: number;
  lastIoError: string;
  lastSqlError: string;
}

/** The SHOW REPLICA STATUS fields worth reporting when replication does not catch up. */
export async function replicaStatus(c: Connection): Promise<ReplicaStatus | null> {
  const [rows] = await c.query('SHOW REPLICA STATUS');
  const r = (rows as Array<Record<string, unknown>>)[0];
  if (!r) return null;
  const [pos] = await c.query('SELECT @@GLOBAL.gtid_slave_pos AS pos');
  return {
    usingGtid: String(r.Using_Gtid),
    ioRunning: String(r.Slave_IO_Running),
    sqlRunning: String(r.Slave_SQL_Running),
    gtidSlavePos: String((pos as Array<{ pos: string }>)[0]?.pos ?? ''),
    gtidIoPos: String(r.Gtid_IO_Pos),
    sqlDelay: Number(r.SQL_Delay),
    lastIoError: String(r.Last_IO_Error),
    lastSqlError: String(r.Last_SQL_Error),
  };
}
