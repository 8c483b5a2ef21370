// my.cnf for one local MariaDB server. Every server reads only its own file (--defaults-file),
// never /etc/mysql, so the machine's own MariaDB (port 3306) and ours cannot mix settings.
import { join } from 'node:path';

export type MariadbSettings = Record<string, string | number>;

/** Small and fast to start; shared by the template (mariadb-install-db) and every server. */
export const STORAGE_SETTINGS: MariadbSettings = {
  innodb_buffer_pool_size: '32M',
  innodb_log_file_size: '8M',
  // Small system and temporary tablespaces: less to write at install and at every start.
  innodb_data_file_path: 'ibdata1:4M:autoextend',
  innodb_temp_data_file_path: 'ibtmp1:1M:autoextend',
  innodb_buffer_pool_dump_at_shutdown: 'OFF',
  innodb_buffer_pool_load_at_startup: 'OFF',
  // Commit writes the redo log and binlog to the OS without fsync: survives kill -9 of the
  // server (the OS still has the pages), not a machine crash; fine for throwaway test servers.
  innodb_flush_log_at_trx_commit: 2,
  sync_binlog: 0,
  performance_schema: 'OFF',
  'skip-name-resolve': 'ON',
  character_set_server: 'utf8mb4',
  collation_server: 'utf8mb4_general_ci',
};

export const BASE_SETTINGS: MariadbSettings = {
  ...STORAGE_SETTINGS,
  'bind-address': '127.0.0.1',
  max_connections: 200,
  default_time_zone: "'+00:00'",
  binlog_format: 'ROW',
  // Row events carry column names and types, so a split's binlog capture (mysql-binlog-capture.ts)
  // decodes rows without reading information_schema; FULL images let it route deletes by shard key.
  binlog_row_metadata: 'FULL',
  binlog_row_image: 'FULL',
  log_slave_updates: 'ON',
  // last_gtid lets a client (the proxy) read the GTID of its session's last write from the OK
  // packet; the rest is MariaDB's default list.
  session_track_system_variables:
    'autocommit,character_set_client,character_set_connection,character_set_results,time_zone,last_gtid',
  // A dead primary is noticed and retried quickly (see also MASTER_CONNECT_RETRY).
  slave_net_timeout: 10,
  log_warnings: 1,
};

export interface ServerIdentity {
  dataDir: string;
  port: number;
  serverId: number;
  gtidDomainId: number;
  replica: boolean;
}

export function socketPath(dataDir: string): string {
  return join(dataDir, 'mysqld.sock');
}

/**
 * The server's own temporary directory, beside its data directory. Not /tmp: MariaDB names its
 * temporary tables by process id, and a server killed with -9 leaves its files there, so a later
 * server given the same pid (pids are reused across a test run) failed with "Could not remove
 * temporary table '/tmp/#sql-temptable-...'" (seen in mariadb-install-db during test setup).
 */
export function tmpDir(dataDir: string): string {
  return `${dataDir}.tmp`;
}

export function pidFile(dataDir: string): string {
  return join(dataDir, 'mariadbd.pid');
}

function render(settings: MariadbSettings): string {
  return `[mysqld]\n${Object.entries(settings)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
}

/** Settings for mariadb-install-db: the storage layout the servers will open. */
export function templateCnf(extra: MariadbSettings, dataDir: string): string {
  return render({
    ...STORAGE_SETTINGS,
    ...pick(extra, Object.keys(STORAGE_SETTINGS)),
    tmpdir: tmpDir(dataDir),
  });
}

function pick(settings: MariadbSettings, keys: string[]): MariadbSettings {
  return Object.fromEntries(Object.entries(settings).filter(([k]) => keys.includes(k)));
}

export function serverCnf(id: ServerIdentity, extra: MariadbSettings): string {
  return render({
    ...BASE_SETTINGS,
    datadir: id.dataDir,
    socket: socketPath(id.dataDir),
    'pid-file': pidFile(id.dataDir),
    tmpdir: tmpDir(id.dataDir),
    port: id.port,
    server_id: id.serverId,
    gtid_domain_id: id.gtidDomainId,
    log_bin: join(id.dataDir, 'binlog'),
    relay_log: join(id.dataDir, 'relay-bin'),
    read_only: id.replica ? 'ON' : 'OFF',
    ...extra,
  });
}
