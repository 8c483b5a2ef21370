// What the local PostgreSQL and MariaDB clusters share: a temporary base directory owned by the
// servers' user, server processes spawned and watched (stderr tail kept for error messages),
// readiness polling, a free port (another one when a process took it first), stop, crash, signal
// and restart, and cleanup. A detached watchdog kills every server of the cluster when this
// process dies, even by SIGKILL, so no orphan survives a failed test. The database-specific part
// (how a server is created, started, probed and configured) is a subclass.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RunAs } from './os-user.js';
import { freePort } from './ports.js';
import { removeInBackground } from './remove-later.js';
import { descendantPids, freezeProcesses } from './server-processes.js';

const execFileAsync = promisify(execFile);

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ClusterServer {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  host: string;
  port: number;
  /** Superuser connection string for this server directly. */
  url: string;
  dataDir: string;
}

export interface ClusterShard<S extends ClusterServer> {
  name: string;
  primary: S;
  replicas: S[];
}

/** How the processes of one kind of server are run. */
export interface ServerProcessKind {
  /** For messages: "PostgreSQL", "MariaDB". */
  label: string;
  /** The pid file each server writes in its data directory (the watchdog reads it). */
  pidFile: string;
  /** Environment added to ours for servers and tools. */
  env: Record<string, string>;
  /** The clean shutdown signal, and the one when the data is thrown away. */
  stopSignal: NodeJS.Signals;
  immediateStopSignal: NodeJS.Signals;
  /** Waited after a kill -9, for children of the killed process to go. */
  killSettleMs: number;
}

/** What a readiness probe found on the server's port. */
export type Probe = 'ready' | 'unreachable' | { otherServer: string };

interface Running<S> {
  server: S;
  child: ChildProcess | null;
  stderrTail: string;
}

const START_WITHIN_MS = 60_000;
const STOP_WITHIN_MS = 15_000;
const RESTART_WITHIN_MS = 30_000;

/** A new base directory the servers' user can enter. */
export function clusterBaseDir(baseDir: string | undefined, prefix: string, runAs: RunAs | null): string {
  const dir = baseDir ?? mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  return dir;
}

export abstract class ServerCluster<S extends ClusterServer> {
  readonly shards: Array<ClusterShard<S>> = [];
  readonly spares: S[] = [];
  /** Replicas of each spare, by the spare's name (the new shard's replicas after a migration). */
  readonly spareReplicas = new Map<string, S[]>();
  private readonly running = new Map<string, Running<S>>();
  private watchdog: ChildProcess | null = null;
  private stopped = false;
  private readonly exitHandler = () => this.killAllSync();

  protected constructor(
    readonly baseDir: string,
    protected readonly runAs: RunAs | null,
    protected readonly log: Logger | undefined,
    private readonly kind: ServerProcessKind,
  ) {}

  /** The server's program and arguments. */
  protected abstract command(server: S): { file: string; args: string[] };

  /** Whether the server accepts connections yet (a short connection attempt). */
  protected abstract probe(server: S): Promise<Probe>;

  /** Writes server.port into the server's configuration (and its url) before a start. */
  protected abstract usePort(server: S): void;

  /**
   * Starts the watchdog, runs `prepare`, then creates every shard (a primary, then its replicas),
   * all shards at once; on failure stops what was started.
   */
  protected async startShards(
    count: number,
    create: (index: number, name: string) => Promise<ClusterShard<S>>,
    describe: object,
    prepare?: () => Promise<void>,
  ): Promise<void> {
    this.startWatchdog();
    process.once('exit', this.exitHandler);
    const started = Date.now();
    try {
      await prepare?.();
      await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          this.shards[i] = await create(i, `s${i}`);
        }),
      );
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log?.info({ ...describe, ms: Date.now() - started }, `local ${this.kind.label} cluster started`);
  }

  private startWatchdog(): void {
    // Kills the cluster's servers (their pids are in each data dir) once we are gone.
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; for f in "${this.baseDir}"/*/${this.kind.pidFile}; do [ -f "$f" ] && kill -9 "$(head -n1 "$f")" 2>/dev/null; done; sleep 1; rm -rf "${this.baseDir}"`;
    this.watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    this.watchdog.unref();
  }

  protected spawnOptions() {
    return {
      cwd: this.baseDir,
      env: { ...process.env, ...this.kind.env, LC_ALL: 'C' },
      ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
    };
  }

  /** Runs a tool (initdb, mariadb-install-db, ...) as the servers' user; its stdout. */
  protected async runTool(file: string, args: string[], label: string): Promise<string> {
    try {
      const { stdout } = await execFileAsync(file, args, { ...this.spawnOptions(), timeout: 120_000 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${label} failed: ${(e.stderr?.trim() || e.stdout?.trim() || e.message).slice(-2000)}`);
    }
  }

  /** Chooses a free port and starts the server; when another process took the port first, another one. */
  protected async launchOnFreePort(server: S): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      server.port = await freePort();
      this.usePort(server);
      try {
        await this.launch(server);
        return;
      } catch (err) {
        const msg = (err as Error).message;
        if (attempt >= 3 || !/Address already in use|could not bind/i.test(msg)) throw err;
        this.log?.info(
          { server: server.name, port: server.port },
          'port taken by another process; retrying on another',
        );
      }
    }
  }

  private async launch(server: S): Promise<void> {
    const { file, args } = this.command(server);
    const child = spawn(file, args, { ...this.spawnOptions(), stdio: ['ignore', 'ignore', 'pipe'] });
    const entry: Running<S> = this.running.get(server.name) ?? { server, child: null, stderrTail: '' };
    entry.child = child;
    entry.stderrTail = '';
    this.running.set(server.name, entry);
    // Keep reading stderr (a full pipe would block the server); keep its tail for error messages.
    child.stderr?.on('data', (d: Buffer) => {
      entry.stderrTail = (entry.stderrTail + d.toString()).slice(-8_000);
    });
    child.on('exit', () => {
      if (entry.child === child) entry.child = null;
    });
    const label = `${this.kind.label} ${server.name}`;
    const tail = () => entry.stderrTail.trim().slice(-2000);
    const deadline = Date.now() + START_WITHIN_MS;
    for (;;) {
      if (entry.child !== child) throw new Error(`${label} exited during startup: ${tail()}`);
      const found = await this.probe(server);
      if (found === 'ready') return;
      if (found !== 'unreachable') {
        // Another server answers on our port: ours cannot bind it. Say so, so the caller picks another.
        child.kill('SIGKILL');
        throw new Error(
          `${label}: port ${server.port} belongs to another server (${found.otherServer}); Address already in use`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(`${label} did not accept connections in ${START_WITHIN_MS / 1000} s: ${tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  all(): S[] {
    return [...this.shards.flatMap((s) => [s.primary, ...s.replicas]), ...this.spares];
  }

  server(name: string): S {
    // Launched servers, so lookups also work while the cluster is still starting.
    const s = this.running.get(name)?.server;
    if (!s) throw new Error(`no server named ${name}; known: ${[...this.running.keys()].join(', ')}`);
    return s;
  }

  /** Whether a server of that name was started (running or not). */
  protected has(name: string): boolean {
    return this.running.has(name);
  }

  /** The primary of a replica's shard. */
  protected primaryOf(replica: S): S | undefined {
    return [...this.running.values()]
      .map((e) => e.server)
      .find((s) => s.shard === replica.shard && s.role === 'primary');
  }

  /** A clean shutdown; `immediate`: a quick one without it (the data is to be thrown away). */
  async stopServer(name: string, immediate = false): Promise<void> {
    const child = this.running.get(name)?.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_WITHIN_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill(immediate ? this.kind.immediateStopSignal : this.kind.stopSignal);
    });
  }

  /** kill -9 the server (a crash); crash recovery runs on restart. */
  async killServer(name: string): Promise<void> {
    const child = this.running.get(name)?.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    if (this.kind.killSettleMs > 0) await new Promise((r) => setTimeout(r, this.kind.killSettleMs));
  }

  /**
   * Sends `signal` to a server's process and every process under it (SIGCONT resumes a frozen
   * server). SIGSTOP goes through freezeServer: kill(2) returns before a multi-threaded server has
   * stopped (server-processes.ts).
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

  /** Starts a stopped or killed server again (stops it first when running). */
  async restartServer(name: string): Promise<void> {
    const entry = this.running.get(name);
    if (!entry) throw new Error(`no server named ${name}`);
    if (entry.child) await this.stopServer(name);
    const deadline = Date.now() + RESTART_WITHIN_MS;
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

  describeJson(): { shards: Array<ClusterShard<S>>; spares: S[] } {
    return { shards: this.shards, spares: this.spares };
  }

  /** Before the servers stop (timers of the subclass). */
  protected beforeStop(): void {}

  /**
   * Stops every server and removes the cluster's directory. The data is thrown away either way,
   * so `immediate` skips the clean shutdown and removes the files in the background.
   */
  async stop(options: { immediate?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.off('exit', this.exitHandler);
    this.beforeStop();
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

/** Gives a directory tree to the servers' user (copies are made as root). */
export function chownTree(dir: string, runAs: RunAs): void {
  const r = spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`chown of ${dir} failed: ${r.stderr?.toString().trim()}`);
}
