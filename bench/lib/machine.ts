// What machine a result came from, and how busy it was: results from a shared machine are only
// trustworthy next to the load they were measured under.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { runCommand } from './proc.js';

export interface MachineInfo {
  hostname: string;
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  os: string;
  kernel: string;
  arch: string;
  node: string;
  /** Tool name -> first line of its --version, or null when not installed. */
  versions: Record<string, string | null>;
}

export interface LoadSnapshot {
  at: string;
  /** 1, 5 and 15 minute load averages. */
  loadavg: [number, number, number];
  freeMemoryBytes: number;
}

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
    if (m?.[1]) return m[1];
  } catch {
    // not Linux, or no os-release
  }
  return `${os.type()} ${os.release()}`;
}

/** First line of `<cmd> --version`, or null when it cannot run. */
export async function toolVersion(
  cmd: string,
  args: readonly string[] = ['--version'],
): Promise<string | null> {
  const r = await runCommand(cmd, args, { timeoutMs: 10_000, maxOutput: 10_000 });
  if (r.code !== 0) return null;
  const line = (r.stdout || r.stderr).trim().split('\n')[0];
  return line ? line.trim() : null;
}

export async function machineInfo(tools: Record<string, readonly string[]> = {}): Promise<MachineInfo> {
  const cpus = os.cpus();
  const versions: Record<string, string | null> = {};
  for (const [name, argv] of Object.entries(tools)) {
    const [cmd, ...args] = argv;
    versions[name] = cmd ? await toolVersion(cmd, args.length > 0 ? args : ['--version']) : null;
  }
  return {
    hostname: os.hostname(),
    cpus: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryBytes: os.totalmem(),
    os: osName(),
    kernel: os.release(),
    arch: os.arch(),
    node: process.version,
    versions,
  };
}

export function loadSnapshot(): LoadSnapshot {
  const [a = 0, b = 0, c = 0] = os.loadavg();
  return { at: new Date().toISOString(), loadavg: [a, b, c], freeMemoryBytes: os.freemem() };
}

/** One line for the console, e.g. "2 cpus (Intel Xeon), 24.0 GiB, Debian 12, node v20". */
export function describeMachine(m: MachineInfo): string {
  const gib = (m.memoryBytes / 2 ** 30).toFixed(1);
  return `${m.cpus} cpus (${m.cpuModel}), ${gib} GiB, ${m.os}, node ${m.node}`;
}

export function describeLoad(l: LoadSnapshot): string {
  return `load average ${l.loadavg.map((v) => v.toFixed(2)).join(' ')}`;
}
