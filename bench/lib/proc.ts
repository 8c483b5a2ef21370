// Process helpers for benchmarks: run a command with a hard timeout, find a free loopback port,
// wait until a port accepts, and start long-running services that are stopped on exit/Ctrl-C.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Wall time in milliseconds. */
  ms: number;
}

export interface RunOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Keep at most this many characters of each stream (the tail). */
  maxOutput?: number;
}

/** Runs a command to completion; kills it (SIGTERM, then SIGKILL) when the timeout passes. */
export function runCommand(cmd: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const maxOutput = options.maxOutput ?? 1_000_000;
  const started = Date.now();
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const child = spawn(cmd, [...args], spawnOptionsFor(options));
    const untrack = trackChild(child);
    const keep = (acc: string, chunk: Buffer) => {
      const next = acc + chunk.toString('utf8');
      return next.length > maxOutput ? next.slice(next.length - maxOutput) : next;
    };
    child.stdout?.on('data', (c: Buffer) => {
      stdout = keep(stdout, c);
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr = keep(stderr, c);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
    }, options.timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      untrack();
      resolve({ code, signal, stdout, stderr: stderr + extra, timedOut, ms: Date.now() - started });
    };
    child.on('error', (err) => finish(null, null, `\n${err.message}`));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** True when `cmd` is found on PATH (or is an existing path). */
export async function commandExists(cmd: string): Promise<boolean> {
  const r = await runCommand('sh', ['-c', `command -v ${shellQuote(cmd)}`], { timeoutMs: 5_000 });
  return r.code === 0 && r.stdout.trim() !== '';
}

export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

export { freePort } from '../../src/local/ports.js';

function tryConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Waits until host:port accepts a TCP connection, retrying every 100 ms up to timeoutMs.
 * `alive` lets the caller stop early when the process it waits for has already exited.
 */
export async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  alive?: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (alive && !alive()) throw new Error(`process exited before ${host}:${port} accepted connections`);
    if (await tryConnect(host, port, 1_000)) return;
    await sleep(100);
  }
  throw new Error(`${host}:${port} did not accept connections within ${timeoutMs} ms`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Service {
  name: string;
  child: ChildProcess;
  /** The tail of its stdout+stderr, for error messages. */
  output(): string;
  exited(): boolean;
  /** `signal` (SIGTERM by default), then SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<void>;
}

export interface ServiceOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
}

/** Output piped, and the environment, directory and user asked for. */
function spawnOptionsFor(options: ServiceOptions): SpawnOptions {
  const spawnOptions: SpawnOptions = { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] };
  if (options.cwd) spawnOptions.cwd = options.cwd;
  if (options.uid !== undefined) spawnOptions.uid = options.uid;
  if (options.gid !== undefined) spawnOptions.gid = options.gid;
  return spawnOptions;
}

/**
 * Starts a connection pooler (pgbouncer, pgpool) in its temp dir, as `owner` when this process is
 * root, and waits for its port; when it does not come up, stops it, removes the dir and says why.
 */
export async function startPooler(
  cmd: string,
  args: readonly string[],
  o: { port: number; tmp: { dir: string; remove: () => void }; owner: SystemUser | null; timeoutMs: number },
): Promise<{ service: Service } | { note: string }> {
  const ids = o.owner && process.getuid?.() === 0 ? { uid: o.owner.uid, gid: o.owner.gid } : {};
  const service = startService(cmd, cmd, args, { ...ids, cwd: o.tmp.dir });
  try {
    await waitForPort('127.0.0.1', o.port, o.timeoutMs, () => !service.exited());
    return { service };
  } catch (err) {
    await service.stop();
    o.tmp.remove();
    const why = err instanceof Error ? err.message : String(err);
    return { note: `${cmd} did not start: ${why}: ${outputDigest(service.output())}` };
  }
}

/** Starts a long-running process; it is killed when this process exits or gets SIGINT/SIGTERM. */
export function startService(
  name: string,
  cmd: string,
  args: readonly string[],
  options: ServiceOptions = {},
): Service {
  const child = spawn(cmd, [...args], spawnOptionsFor(options));
  const untrack = trackChild(child);
  let log = '';
  let gone = false;
  const append = (c: Buffer) => {
    log = (log + c.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exitedPromise = new Promise<void>((resolve) => {
    child.on('error', (err) => {
      log += `\n${err.message}`;
      gone = true;
      untrack();
      resolve();
    });
    child.on('exit', () => {
      gone = true;
      untrack();
      resolve();
    });
  });
  return {
    name,
    child,
    output: () => log,
    exited: () => gone,
    async stop(graceMs = 5_000, signal: NodeJS.Signals = 'SIGTERM') {
      if (gone) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

// Children still running when this process exits or is interrupted get killed: a benchmark
// interrupted with Ctrl-C must not leave servers behind.
const liveChildren = new Set<ChildProcess>();
const exitHooks: Array<() => Promise<void>> = [];
let handlersInstalled = false;

function trackChild(child: ChildProcess): () => void {
  installHandlers();
  liveChildren.add(child);
  return () => liveChildren.delete(child);
}

/** Registers async cleanup run once on SIGINT/SIGTERM (before exiting); returns an unregister. */
export function onInterrupt(hook: () => Promise<void>): () => void {
  installHandlers();
  exitHooks.push(hook);
  return () => {
    const i = exitHooks.indexOf(hook);
    if (i >= 0) exitHooks.splice(i, 1);
  };
}

function killAll(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', killAll);
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}: stopping servers...\n`);
    const hooks = [...exitHooks].reverse();
    const run = async () => {
      for (const hook of hooks) await hook().catch(() => undefined);
    };
    const hardStop = setTimeout(() => {
      killAll();
      process.exit(130);
    }, 15_000);
    void run().then(() => {
      clearTimeout(hardStop);
      killAll();
      process.exit(130);
    });
  };
  // Only install signal handlers inside a benchmark process, not inside test workers.
  if (!process.env.VITEST) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
}

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

/** A text file's content, or null where it cannot be read (absent, not permitted, no /proc). */
export function readTextFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Looks a user up in /etc/passwd (servers that refuse root run as e.g. "postgres"). */
export function systemUser(name: string, passwd?: string): SystemUser | null {
  const text = passwd ?? readTextFile('/etc/passwd');
  if (text === null) return null;
  for (const line of text.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) {
      const u = Number(uid);
      const g = Number(gid);
      if (Number.isInteger(u) && Number.isInteger(g)) return { name, uid: u, gid: g };
    }
  }
  return null;
}

/** A private temp directory owned by `owner` (when given), removed by the returned function. */
export function ownedTempDir(prefix: string, owner?: SystemUser | null): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (owner && process.getuid?.() === 0) chownSync(dir, owner.uid, owner.gid);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a file and hands it to `owner` (when running as root). */
export function writeOwnedFile(path: string, text: string, owner?: SystemUser | null, mode = 0o600): void {
  writeFileSync(path, text, { mode });
  if (owner && process.getuid?.() === 0) chownSync(path, owner.uid, owner.gid);
}

/** A one-line digest of a failed process's output: its first error-looking line, else its last lines. */
export function outputDigest(text: string, maxLength = 400): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const error = lines.find((l) => /\b(error|fatal|refused|denied|cannot|could not)\b/i.test(l));
  const digest = error ?? lines.slice(-3).join(' | ');
  return digest.length > maxLength ? `${digest.slice(0, maxLength)}...` : digest;
}
