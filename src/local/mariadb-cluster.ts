// Starts real MariaDB servers on free loopback ports in a temporary directory: N shards, each a
// primary plus M GTID replicas, and spare primaries on demand (the MariaDB twin of
// postgres-cluster.ts). Every server is a copy of one mariadb-install-db template, with its own
// server_id; each shard has its own gtid_domain_id. A detached watchdog kills every server of the
// cluster when this process dies, even by SIGKILL, so no orphan survives a failed test.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findMariadbBinaries, type MariadbBinaries, mariadbRunAs } from './mariadb-binaries.js';
import { type MariadbSettings, serverCnf, socketPath, templateCnf } from './mariadb-config.js';
import {
  type Connection,
  openConnection,
  type ReplicaStatus,
  replicaStatus,
  startReplication,
  waitForGtid,
} from './mariadb-replication.js';
import type { RunAs } from './os-user.js';
import { freePort } from './ports.js';
import type { Logger } from './postgres-cluster.js';
import { removeInBackground } from './remove-later.js';
import { freezeProcesses } from './server-processes.js';

const execFileAsync = promisify(execFile);

export interface MariadbServer {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  host: string;
  port: number;
  /** Root connection string for this server directly (no password). */
  url: string;
  /** Unix socket of the server, inside its data directory. */
  socketPath: string;
  dataDir: string;
  serverId: number;
  gtidDomainId: number;
}

export interface MariadbShard {
  name: string;
  primary: MariadbServer;
  replicas: MariadbServer[];
}

export interface MariadbClusterOptions {
  shards: number;
  replicasPerShard: number;
  database?: string;
  baseDir?: string;
  /** Extra my.cnf [mysqld] settings for every server (override the launcher's). */
  settings?: MariadbSettings;
  logger?: Logger;
}

interface Running {
  server: MariadbServer;
  child: ChildProcess | null;
  stderrTail: string;
}

const TEMPLATE = 'template';

export class MariadbCluster {
  readonly shards: MariadbShard[] = [];
  readonly spares: MariadbServer[] = [];
  private readonly running = new Map<string, Running>();
  private readonly resumeTimers = new Map<string, NodeJS.Timeout>();
  private watchdog: ChildProcess | null = null;
  private stopped = false;
  private readonly exitHandler = () => this.killAllSync();

  private constructor(
    readonly baseDir: string,
    readonly database: string,
    private readonly bins: MariadbBinaries,
    private readonly runAs: RunAs | null,
    private readonly settings: MariadbSettings,
    private readonly log: Logger | undefined,
  ) {}

  static async start(options: MariadbClusterOptions): Promise<MariadbCluster> {
    const database = options.database ?? 'shardgate';
    if (!/^[A-Za-z0-9_]+$/.test(database))
      throw new Error(`database name "${database}": use letters, digits and _ only`);
    const bins = findMariadbBinaries();
    const runAs = mariadbRunAs(options.logger);
    const baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), 'shardgate-mariadb-'));
    mkdirSync(baseDir, { recursive: true });
    chmodSync(baseDir, 0o755);
    if (runAs) chownSync(baseDir, runAs.uid, runAs.gid);
    const cluster = new MariadbCluster(
      baseDir,
      database,
      bins,
      runAs,
      options.settings ?? {},
      options.logger,
    );
    cluster.startWatchdog();
    process.once('exit', cluster.exitHandler);
    const started = Date.now();
    try {
      await cluster.installTemplate();
      await Promise.all(
        Array.from({ length: options.shards }, async (_, i) => {
          const name = `s${i}`;
          // Ids are fixed by position so logs and GTIDs read the same on every run.
          const domain = i + 1;
          const primary = await cluster.createPrimary(`${name}-primary`, name, domain * 100, domain);
          const replicas: MariadbServer[] = [];
          for (let r = 1; r <= options.replicasPerShard; r++) {
            replicas.push(await cluster.createReplica(primary, `${name}-replica${r}`, domain * 100 + r));
          }
          cluster.shards[i] = { name, primary, replicas };
        }),
      );
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    cluster.log?.info(
      { shards: options.shards, replicas: options.replicasPerShard, ms: Date.now() - started },
      'local MariaDB cluster started',
    );
    return cluster;
  }

  private startWatchdog(): void {
    // Kills the cluster's servers (their pids are in each data dir) once we are gone.
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; for f in "${this.baseDir}"/*/mariadbd.pid; do [ -f "$f" ] && kill -9 "$(head -n1 "$f")" 2>/dev/null; done; sleep 1; rm -rf "${this.baseDir}"`;
    this.watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    this.watchdog.unref();
  }

  private spawnOptions() {
    return {
      cwd: this.baseDir,
      env: { ...process.env, LC_ALL: 'C' },
      ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
    };
  }

  private writeOwned(path: string, text: string): void {
    writeFileSync(path, text, { mode: 0o644 });
    if (this.runAs) chownSync(path, this.runAs.uid, this.runAs.gid);
  }

  /** One mariadb-install-db run; every server starts from a copy (faster than one run each). */
  private async installTemplate(): Promise<void> {
    const cnf = join(this.baseDir, `${TEMPLATE}.cnf`);
    this.writeOwned(cnf, templateCnf(this.settings));
    try {
      await execFileAsync(
        this.bins.installDb,
        [
          `--defaults-file=${cnf}`,
          `--datadir=${join(this.baseDir, TEMPLATE)}`,
          // root@localhost, root@127.0.0.1 and root@::1 without password: tests log in over TCP.
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          '--skip-name-resolve',
        ],
        { ...this.spawnOptions(), timeout: 120_000 },
      );
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(
        `mariadb-install-db failed: ${(e.stderr || e.stdout || e.message).trim().slice(-2000)}`,
      );
    }
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
    // Another process may take the free port before the server binds it: then try another one.
    for (let attempt = 1; ; attempt++) {
      server.port = await freePort();
      server.url = `mysql://root@127.0.0.1:${server.port}/${this.database}`;
      this.writeOwned(cnfPath(dataDir), serverCnf({ ...server, replica: role === 'replica' }, this.settings));
      try {
        await this.launch(server);
        return server;
      } catch (err) {
        if (attempt >= 3 || !/Address already in use/i.test((err as Error).message)) throw err;
      }
    }
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

  private async launch(server: MariadbServer): Promise<void> {
    const child = spawn(this.bins.mariadbd, [`--defaults-file=${cnfPath(server.dataDir)}`], {
      ...this.spawnOptions(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const entry: Running = this.running.get(server.name) ?? { server, child: null, stderrTail: '' };
    entry.child = child;
    entry.stderrTail = '';
    this.running.set(server.name, entry);
    // The server logs to stderr; keep reading it (a full pipe would block the server) and keep
    // the tail for error messages.
    child.stderr?.on('data', (d: Buffer) => {
      entry.stderrTail = (entry.stderrTail + d.toString()).slice(-4_000);
    });
    child.on('exit', () => {
      if (entry.child === child) entry.child = null;
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (entry.child !== child)
        throw new Error(
          `MariaDB ${server.name} exited during startup: ${entry.stderrTail.trim().slice(-2000)}`,
        );
      try {
        const c = await openConnection(server, null, 1_000);
        await c.end();
        return;
      } catch {
        if (Date.now() > deadline)
          throw new Error(
            `MariaDB ${server.name} did not accept connections in 60 s: ${entry.stderrTail.trim().slice(-2000)}`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private async withConnection<T>(
    server: MariadbServer,
    database: string | null,
    fn: (c: Connection) => Promise<T>,
  ): Promise<T> {
    const c = await openConnection(server, database);
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  all(): MariadbServer[] {
    return [...this.shards.flatMap((s) => [s.primary, ...s.replicas]), ...this.spares];
  }

  server(name: string): MariadbServer {
    // Launched servers, so lookups also work while the cluster is still starting.
    const s = this.running.get(name)?.server;
    if (!s) throw new Error(`no server named ${name}; known: ${[...this.running.keys()].join(', ')}`);
    return s;
  }

  private replica(name: string): { replica: MariadbServer; primary: MariadbServer } {
    const replica = this.server(name);
    if (replica.role !== 'replica') throw new Error(`${name} is not a replica`);
    const primary = [...this.running.values()]
      .map((e) => e.server)
      .find((s) => s.shard === replica.shard && s.role === 'primary');
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

  /** A new standalone primary (a split target) with its own gtid_domain_id and the database. */
  async addSpare(name: string): Promise<MariadbServer> {
    if (this.running.has(name)) throw new Error(`a server named ${name} already exists`);
    const k = this.spares.length + 1;
    const domain = 1000 + k;
    const server = await this.createPrimary(name, name, domain * 100, domain);
    this.spares.push(server);
    return server;
  }

  async stopServer(name: string): Promise<void> {
    const child = this.running.get(name)?.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM'); // clean shutdown
    });
  }

  /** kill -9 the server (a crash); InnoDB and binlog crash recovery run on restart. */
  async killServer(name: string): Promise<void> {
    const child = this.running.get(name)?.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /**
   * Sends `signal` to a server's process (SIGCONT resumes a frozen server). SIGSTOP goes through
   * freezeServer: kill(2) returns before a multi-threaded server has stopped.
   */
  signalServer(name: string, signal: NodeJS.Signals): void {
    if (signal === 'SIGSTOP')
      throw new Error('use freezeServer(): SIGSTOP takes effect later than kill(2) returns');
    process.kill(this.pidOf(name), signal);
  }

  /** A server that accepts connections but never answers (a hung host), from the moment this resolves. */
  async freezeServer(name: string): Promise<void> {
    await freezeProcesses([this.pidOf(name)]);
  }

  private pidOf(name: string): number {
    const pid = this.running.get(name)?.child?.pid;
    if (!pid) throw new Error(`${name} is not running`);
    return pid;
  }

  /** Starts a stopped or killed server again (stops it first when running). */
  async restartServer(name: string): Promise<void> {
    const entry = this.running.get(name);
    if (!entry) throw new Error(`no server named ${name}`);
    if (entry.child) await this.stopServer(name);
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.launch(entry.server);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
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
    await this.withConnection(replica, null, (c) => c.query('STOP SLAVE SQL_THREAD'));
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
    await this.withConnection(replica, null, (c) => c.query('START SLAVE SQL_THREAD'));
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

  /** SHOW SLAVE STATUS of a replica, reduced to threads, position, delay and errors. */
  async replicaStatus(name: string): Promise<ReplicaStatus | null> {
    return this.withConnection(this.replica(name).replica, null, replicaStatus);
  }

  describeJson(): { shards: MariadbShard[]; spares: MariadbServer[] } {
    return { shards: this.shards, spares: this.spares };
  }

  /**
   * Stops every server and removes the cluster's directory. The data is thrown away either way,
   * so `immediate` kills the servers instead of a clean InnoDB shutdown and removes the files
   * in the background.
   */
  async stop(options: { immediate?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.off('exit', this.exitHandler);
    for (const name of [...this.resumeTimers.keys()]) this.clearResumeTimer(name);
    const stopOne = (n: string) => (options.immediate ? this.killServer(n) : this.stopServer(n));
    await Promise.all([...this.running.keys()].map((n) => stopOne(n).catch(() => undefined)));
    this.watchdog?.kill('SIGKILL');
    if (options.immediate) removeInBackground(this.baseDir);
    else rmSync(this.baseDir, { recursive: true, force: true });
  }

  private killAllSync(): void {
    for (const entry of this.running.values()) entry.child?.kill('SIGKILL');
  }
}

function cnfPath(dataDir: string): string {
  return `${dataDir}.cnf`;
}

function chownTree(dir: string, runAs: RunAs): void {
  // cpSync copies as root; the server user must own its data directory.
  const r = spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`chown of ${dir} failed: ${r.stderr?.toString().trim()}`);
}

export function startMariadbCluster(options: MariadbClusterOptions): Promise<MariadbCluster> {
  return MariadbCluster.start(options);
}

/** Runs fn with a cluster and always stops it. */
export async function withMariadbCluster<T>(
  options: MariadbClusterOptions,
  fn: (c: MariadbCluster) => Promise<T>,
): Promise<T> {
  const cluster = await startMariadbCluster(options);
  try {
    return await fn(cluster);
  } finally {
    await cluster.stop();
  }
}
