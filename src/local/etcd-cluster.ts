// Starts a real etcd cluster (1 or 3 members) on free loopback ports, each member with its own
// temporary data directory, for the control-plane tests and the demo. Members can be stopped and
// started again one by one (an etcd member lost, an instance cut off from etcd). A detached
// watchdog kills the members when this process dies, even by SIGKILL, so no orphan survives.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureEtcd } from './etcd-binary.js';
import { freePort } from './ports.js';

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  /** host:port of the client endpoint. */
  endpoint: string;
}

interface Running {
  child: ChildProcess;
  output: string;
  exited: Promise<void>;
}

const OUTPUT_TAIL = 4_000;

export class EtcdCluster {
  private readonly running = new Map<string, Running>();
  private watchdog: ChildProcess | null = null;
  private readonly exitHandler = () => {
    for (const r of this.running.values()) r.child.kill('SIGKILL');
  };

  private constructor(
    readonly baseDir: string,
    readonly members: EtcdMember[],
    private readonly binary: string,
    /** Unique per cluster, so a member never joins another test's cluster by mistake. */
    private readonly token: string,
  ) {}

  /** Every member's client endpoint, as `etcd://host:port,host:port` for `--control`. */
  get url(): string {
    return `etcd://${this.members.map((m) => m.endpoint).join(',')}`;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  static async start(options: { members: 1 | 3; deadlineMs?: number }): Promise<EtcdCluster> {
    const binary = await ensureEtcd();
    // A port taken by another process between the check and etcd's bind: try new ports.
    for (let attempt = 0; ; attempt++) {
      const baseDir = mkdtempSync(join(tmpdir(), 'shardgate-etcd-'));
      const members: EtcdMember[] = [];
      for (let i = 0; i < options.members; i++) {
        const clientPort = await freePort();
        const peerPort = await freePort();
        const dataDir = join(baseDir, `m${i}`);
        mkdirSync(dataDir, { mode: 0o700 });
        members.push({ name: `m${i}`, clientPort, peerPort, dataDir, endpoint: `127.0.0.1:${clientPort}` });
      }
      const cluster = new EtcdCluster(baseDir, members, binary, `shardgate-${process.pid}-${Date.now()}`);
      process.once('exit', cluster.exitHandler);
      try {
        for (const m of members) cluster.spawnMember(m);
        cluster.startWatchdog();
        await cluster.waitHealthy(options.deadlineMs ?? 30_000);
        return cluster;
      } catch (err) {
        const output = [...cluster.running.values()].map((r) => r.output).join('\n');
        await cluster.stop();
        if (attempt < 3 && /address already in use/i.test(output)) continue;
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${output.slice(-OUTPUT_TAIL)}`);
      }
    }
  }

  /** (Re)started whenever a member starts, so it knows every member's pid. */
  private startWatchdog(): void {
    this.watchdog?.kill('SIGKILL');
    const pids = [...this.running.values()].map((r) => r.child.pid).filter((p) => p !== undefined);
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${pids.join(' ')} 2>/dev/null; rm -rf "${this.baseDir}"`;
    this.watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    this.watchdog.unref();
  }

  private spawnMember(m: EtcdMember): void {
    const peers = this.members.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',');
    const args = [
      '--name',
      m.name,
      '--data-dir',
      m.dataDir,
      '--listen-client-urls',
      `http://127.0.0.1:${m.clientPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${m.clientPort}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${m.peerPort}`,
      '--initial-cluster',
      peers,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      this.token,
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      '--log-level',
      'warn',
    ];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const entry: Running = {
      child,
      output: '',
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    const keep = (d: Buffer) => {
      entry.output = (entry.output + d.toString()).slice(-OUTPUT_TAIL);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.running.set(m.name, entry);
  }

  /** Resolves once every running member answers /health with a leader, else throws at the deadline. */
  async waitHealthy(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const live = this.members.filter((m) => this.isRunning(m.name));
      if (live.length === 0) throw new Error('etcd: no member is running');
      const states = await Promise.all(live.map((m) => memberHealthy(m)));
      if (states.every(Boolean)) return;
      const dead = [...this.running.entries()].find(([, r]) => r.child.exitCode !== null);
      if (dead) throw new Error(`etcd member ${dead[0]} exited with code ${dead[1].child.exitCode}`);
      if (Date.now() >= deadline) throw new Error(`etcd did not become healthy within ${deadlineMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  isRunning(name: string): boolean {
    const r = this.running.get(name);
    return !!r && r.child.exitCode === null && r.child.signalCode === null;
  }

  /** Stops one member (SIGKILL: a lost machine; SIGTERM: an orderly stop). Its data stays. */
  async stopMember(name: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const r = this.running.get(name);
    if (!r || !this.isRunning(name)) return;
    r.child.kill(signal);
    await r.exited;
  }

  /** Starts a stopped member again from its data directory (it rejoins the cluster). */
  async startMember(name: string, deadlineMs = 30_000): Promise<void> {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no etcd member "${name}"`);
    if (this.isRunning(name)) return;
    this.spawnMember(m);
    this.startWatchdog();
    await this.waitHealthy(deadlineMs);
  }

  async stop(): Promise<void> {
    process.removeListener('exit', this.exitHandler);
    await Promise.all(
      [...this.running.values()].map(async (r) => {
        if (r.child.exitCode === null && r.child.signalCode === null) {
          r.child.kill('SIGTERM');
          const timer = setTimeout(() => r.child.kill('SIGKILL'), 5_000);
          await r.exited;
          clearTimeout(timer);
        }
      }),
    );
    this.running.clear();
    this.watchdog?.kill('SIGKILL');
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}

async function memberHealthy(m: EtcdMember): Promise<boolean> {
  try {
    const res = await fetch(`http://${m.endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}
