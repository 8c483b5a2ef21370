// Runs `shardgate start` from dist/ as an operator would, against servers a test launched, and
// reads the ports it listens on from its JSON log lines.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { repoRoot } from '../../src/local/local-config.js';

export interface StartedProcess {
  child: ChildProcess;
  /** The config file the process was started with (rule changes with persist write to it). */
  configFile: string;
  postgresPort: number;
  adminPort: number;
  mysqlPort: number | null;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Null while running, else the exit code (or signal name). */
  exited(): number | string | null;
  stop(): Promise<void>;
}

export async function startShardgateProcess(
  config: ShardgateConfig,
  deadlineMs = 60_000,
  /** Extra environment of the process (e.g. SHARDGATE_FAILPOINT). */
  env: Record<string, string> = {},
  /** Extra arguments of `shardgate start` (e.g. --control). */
  args: string[] = [],
): Promise<StartedProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-start-'));
  const file = join(dir, 'shardgate.yaml');
  // JSON is YAML; ports 0 so the process picks free ones and logs them.
  writeFileSync(
    file,
    JSON.stringify(config, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
  );
  const child = spawn(
    process.execPath,
    [join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), 'start', '-c', file, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  let out = '';
  let exit: number | string | null = null;
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  child.on('exit', (code, signal) => (exit = code ?? signal ?? 'exited'));
  const portOf = (msg: string): number | null => {
    for (const line of out.split('\n')) {
      if (!line.includes(msg)) continue;
      try {
        return Number(JSON.parse(line).port);
      } catch {}
    }
    return null;
  };
  const deadline = Date.now() + deadlineMs;
  while (portOf('admin HTTP listening') === null) {
    if (exit !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`shardgate start did not come up (exit ${exit}):\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    configFile: file,
    postgresPort: portOf('postgres front end listening') ?? 0,
    adminPort: portOf('admin HTTP listening') ?? 0,
    mysqlPort: portOf('mysql front end listening'),
    output: () => out,
    exited: () => exit,
    async stop() {
      if (exit !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}

/** GET (POST with `body`) on a started process's admin API with the test token; not OK throws. */
export async function processApi(
  proc: StartedProcess,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${proc.adminPort}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}
