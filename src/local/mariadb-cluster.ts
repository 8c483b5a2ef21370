// Starts real MariaDB servers on free loopback ports in a temporary directory: N shards, each a
// primary plus M GTID replicas, and spare primaries on demand (the MariaDB twin of
// postgres-cluster.ts). Every server is a copy of one mariadb-install-db template, with its own
// server_id; each shard has its own gtid_domain_id. Processes, ports and cleanup are
// server-cluster.ts's; this file knows mariadb-install-db, my.cnf and GTID replication.
import { chownSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAfter } from '../backend/with-connection.js';
import { findMariadbBinaries, type MariadbBinaries, mariadbRunAs } from './mariadb-binaries.js';
import { type MariadbSettings, serverCnf, socketPath, templateCnf, tmpDir } from './mariadb-config.js';
import {
  type Connection,
  openConnection,
  type ReplicaStatus,
  replicaStatus,
  startReplication,
  waitForGtid,
} from './mariadb-replication.js';
import type { ClusterServer, ClusterShard, Logger, Probe } from './server-cluster.js';
import { chownTree, clusterBaseDir, ServerCluster } from './server-cluster.js';

/** `url`: the root connection string (no password). */
export interface MariadbServer extends ClusterServer {
  /** Unix socket of the server, inside its data directory. */
  socketPath: string;
  serverId: number;
  gtidDomainId: number;
}

export type MariadbShard = ClusterShard<MariadbServer>;

export interface MariadbClusterOptions {
  shards: number;
  replicasPerShard: number;
  database?: string;
  baseDir?: string;
  /** Extra my.cnf [mysqld] settings for every server (override the launcher's). */
  settings?: MariadbSettings;
  logger?: Logger;
}

const TEMPLATE = 'template';

export class MariadbCluster extends ServerCluster<MariadbServer> {
  private readonly resumeTimers = new Map<string, NodeJS.Timeout>();

  private constructor(
    baseDir: string,
    readonly database: string,
    private readonly bins: MariadbBinaries,
    runAs: ReturnType<typeof mariadbRunAs>,
    private readonly settings: MariadbSettings,
    log: Logger | undefined,
  ) {
    super(baseDir, runAs, log, {
      label: 'MariaDB',
      pidFile: 'mariadbd.pid',
      env: {},
      stopSignal: 'SIGTERM', // clean InnoDB shutdown
      immediateStopSignal: 'SIGKILL',
      killSettleMs: 0,
    });
  }

  static async start(options: MariadbClusterOptions): Promise<MariadbCluster> {
    const database = options.database ?? 'shardgate';
    if (!/^[A-Za-z0-9_]+$/.test(database))
      throw new Error(`database name "${database}": use letters, digits and _ only`);
    const bins = findMariadbBinaries();
    const runAs = mariadbRunAs(options.logger);
    const cluster = new MariadbCluster(
      clusterBaseDir(options.baseDir, 'shardgate-mariadb-', runAs),
      database,
      bins,
      runAs,
      options.settings ?? {},
      options.logger,
    );
    await cluster.startShards(
      options.shards,
      async (i, name) => {
        // Ids are fixed by position so logs and GTIDs read the same on every run.
        const domain = i + 1;
        const primary = await cluster.createPrimary(`${name}-primary`, name, domain * 100, domain);
        const replicas: MariadbServer[] = [];
        for (let r = 1; r <= options.replicasPerShard; r++) {
          replicas.push(await cluster.createReplica(primary, `${name}-replica${r}`, domain * 100 + r));
        }
        return { name, primary, replicas };
      },
      { shards: options.shards, replicas: options.replicasPerShard },
      () => cluster.installTemplate(),
    );
    return cluster;
  }

  protected command(server: MariadbServer): { file: string; args: string[] } {
    return { file: this.bins.mariadbd, args: [`--defaults-file=${cnfPath(server.dataDir)}`] };
  }

  protected async probe(server: MariadbServer): Promise<Probe> {
    try {
      const c = await openConnection(server, null, 1_000);
      await c.end();
      return 'ready';
    } catch {
      return 'unreachable';
    }
  }

  protected usePort(server: MariadbServer): void {
    server.url = `mysql://root@127.0.0.1:${server.port}/${this.database}`;
    this.ownedDir(tmpDir(server.dataDir));
    this.writeOwned(
      cnfPath(server.dataDir),
      serverCnf({ ...server, replica: server.role === 'replica' }, this.settings),
    );
  }

  private ownedDir(path: string): void {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    if (this.runAs) chownSync(path, this.runAs.uid, this.runAs.gid);
  }

  private writeOwned(path: string, text: string): void {
    writeFileSync(path, text, { mode: 0o644 });
    if (this.runAs) chownSync(path, this.runAs.uid, this.runAs.gid);
  }

  /** One mariadb-install-db run; every server starts from a copy (faster than one run each). */
  private async installTemplate(): Promise<void> {
    const cnf = join(this.baseDir, `${TEMPLATE}.cnf`);
    const template = join(this.baseDir, TEMPLATE);
    this.ownedDir(tmpDir(template));
    this.writeOwned(cnf, templateCnf(this.settings, template));
    await this.runTool(
      this.bins.installDb,
      [
        `--defaults-file=${cnf}`,
        `--datadir=${join(this.baseDir, TEMPLATE)}`,
        // root@localhost, root@127.0.0.1 and root@::1 without password: tests log in over TCP.
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        '--skip-name-resolve',
      ],
      'mariadb-install-db',
    );
  }

  /** Copies the template into a new data directory and starts the server on a free port. */
  private async createServer(
    name: string,
    shard: string,
    role: 'primary' | 'replica',
    serverId: number,
    gtidDomainId: number,
  ): Promise<MariadbServer> {
    const dataDir = join(this.baseDir, name);
    cpSync(join(this.baseDir, TEMPLATE), dataDir, { recursive: true, preserveTimestamps: true });
    if (this.runAs) chownTree(dataDir, this.runAs);
    const server: MariadbServer = {
      name,
      shard,
      role,
      host: '127.0.0.1',
      port: 0,
      url: '',
      socketPath: socketPath(dataDir),
      dataDir,
      serverId,
      gtidDomainId,
    };
    await this.launchOnFreePort(server);
    return server;
  }

  private async createPrimary(
    name: string,
    shard: string,
    serverId: number,
    gtidDomainId: number,
  ): Promise<MariadbServer> {
    const server = await this.createServer(name, shard, 'primary', serverId, gtidDomainId);
    // Binlogged, so the shard's replicas get the database by replication.
    await this.withConnection(server, null, (c) =>
      c.query(`CREATE DATABASE IF NOT EXISTS \`${this.database}\``),
    );
    return server;
  }

  private async createReplica(
    primary: MariadbServer,
    name: string,
    serverId: number,
  ): Promise<MariadbServer> {
    const server = await this.createServer(name, primary.shard, 'replica', serverId, primary.gtidDomainId);
    // The copy has an empty gtid_slave_pos and the primary's binlog starts at its first boot, so
    // the replica replays everything the primary ever logged (the database included).
    await this.withConnection(server, null, (c) => startReplication(c, primary));
    await this.waitForReplication(name, 30_000);
    return server;
  }

  private async withConnection<T>(
    server: MariadbServer,
    database: string | null,
    fn: (c: Connection) => Promise<T>,
  ): Promise<T> {
    return closeAfter(await openConnection(server, database), fn);
  }

  private replica(name: string): { replica: MariadbServer; primary: MariadbServer } {
    const replica = this.server(name);
    if (replica.role !== 'replica') throw new Error(`${name} is not a replica`);
    const primary = this.primaryOf(replica);
    if (!primary) throw new Error(`${name} has no primary`);
    return { replica, primary };
  }

  /** A root connection (mysql2/promise) to one server, in the cluster's database; caller ends it. */
  connect(name: string, database: string | null = this.database): Promise<Connection> {
    return openConnection(this.server(name), database);
  }

  /** Runs one statement on a server as root; the rows of a SELECT, [] for other statements. */
  async query<T = Record<string, unknown>>(name: string, sql: string, params: unknown[] = []): Promise<T[]> {
    return this.withConnection(this.server(name), this.database, async (c) => {
      const [rows] = await c.query(sql, params);
      return Array.isArray(rows) ? (rows as T[]) : [];
    });
  }

  /**
   * A new standalone primary (a migration target) with its own gtid_domain_id and the database,
   * and `replicas` GTID replicas of it ("<name>-replica<N>", read-only, caught up before this
   * returns): the new shard's replicas after the switch.
   */
  async addSpare(name: string, replicas = 0): Promise<MariadbServer> {
    if (this.has(name)) throw new Error(`a server named ${name} already exists`);
    const k = this.spares.length + 1;
    const domain = 1000 + k;
    const server = await this.createPrimary(name, name, domain * 100, domain);
    this.spares.push(server);
    const own: MariadbServer[] = [];
    for (let r = 1; r <= replicas; r++)
      own.push(await this.createReplica(server, `${name}-replica${r}`, domain * 100 + r));
    this.spareReplicas.set(name, own);
    return server;
  }

  /**
   * Replication lag by MASTER_DELAY (0 removes it). MariaDB only supports whole seconds, counted
   * from each event's commit timestamp (itself in whole seconds), so the real delay of an event is
   * between seconds-1 and seconds. For sub-second lag use pauseReplicaApply.
   */
  async setReplicaDelay(name: string, seconds: number): Promise<void> {
    const { replica, primary } = this.replica(name);
    this.clearResumeTimer(name);
    const delay = Math.max(0, Math.round(seconds));
    await this.withConnection(replica, null, (c) => startReplication(c, primary, delay));
  }

  /**
   * Sub-second lag: stops the replica's SQL (apply) thread for `ms`, then starts it again. The IO
   * thread keeps fetching, so on resume the replica applies everything at once, as a replica
   * that fell behind does. Resolves once the apply thread has stopped.
   */
  async pauseReplicaApply(name: string, ms: number): Promise<void> {
    const { replica } = this.replica(name);
    this.clearResumeTimer(name);
    await this.withConnection(replica, null, (c) => c.query('STOP REPLICA SQL_THREAD'));
    const timer = setTimeout(
      () => {
        this.resumeTimers.delete(name);
        void this.resumeReplicaApply(name).catch((err: Error) =>
          this.log?.warn({ server: name, err: err.message }, 'could not resume replication'),
        );
      },
      Math.max(0, ms),
    );
    timer.unref();
    this.resumeTimers.set(name, timer);
  }

  /** Starts a paused apply thread now. */
  async resumeReplicaApply(name: string): Promise<void> {
    const { replica } = this.replica(name);
    this.clearResumeTimer(name);
    await this.withConnection(replica, null, (c) => c.query('START REPLICA SQL_THREAD'));
  }

  private clearResumeTimer(name: string): void {
    const timer = this.resumeTimers.get(name);
    if (timer) clearTimeout(timer);
    this.resumeTimers.delete(name);
  }

  /** Waits until a replica's @@gtid_slave_pos covers its primary's current @@gtid_binlog_pos. */
  async waitForReplication(name: string, timeoutMs = 10_000): Promise<void> {
    const { replica, primary } = this.replica(name);
    const [row] = await this.withConnection(primary, null, async (c) => {
      const [rows] = await c.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
      return rows as Array<{ pos: string }>;
    });
    const pos = row?.pos ?? '';
    await this.withConnection(replica, null, async (c) => {
      if (await waitForGtid(c, pos, timeoutMs)) return;
      const status = await replicaStatus(c);
      throw new Error(
        `${name} did not reach ${primary.name}'s GTID position ${pos} within ${timeoutMs} ms: ${JSON.stringify(status)}`,
      );
    });
  }

  /** SHOW REPLICA STATUS of a replica, reduced to threads, position, delay and errors. */
  async replicaStatus(name: string): Promise<ReplicaStatus | null> {
    return this.withConnection(this.replica(name).replica, null, replicaStatus);
  }

  protected override beforeStop(): void {
    for (const name of [...this.resumeTimers.keys()]) this.clearResumeTimer(name);
  }
}

function cnfPath(dataDir: string): string {
  return `${dataDir}.cnf`;
}

export function startMariadbCluster(options: MariadbClusterOptions): Promise<MariadbCluster> {
  return MariadbCluster.start(options);
}
