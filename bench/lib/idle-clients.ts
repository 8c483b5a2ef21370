// The parent's side of the idle-connection generator (idle-opener.ts): spawns it as its own
// process, waits for its one "opened"/"failed" line, and closes the connections by telling it
// to (or kills it). Bounded: the opener exits by itself after its lifetime.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { IdleOpenerReport, IdleOpenerSpec } from './idle-opener.js';
import { repoRoot } from './shardgate-process.js';

export interface IdleClients {
  opened: number;
  /** Milliseconds the logins took. */
  ms: number;
  fdLimit: number | null;
  /** Closes every connection and waits for the opener to exit; resolves with how many it closed. */
  close(): Promise<number>;
}

function openerPath(): string {
  return join(repoRoot(), 'dist', 'bench', 'lib', 'idle-opener.js');
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdin?.end('close\n');
  });
}

/**
 * Opens `spec.count` logged-in idle connections from a separate process. Rejects (after stopping
 * the opener) when it cannot open them all, with the opener's reason.
 */
export async function openIdleClients(spec: IdleOpenerSpec): Promise<IdleClients> {
  const script = openerPath();
  if (!existsSync(script)) throw new Error(`${script} not found: run "npm run build" first`);
  const child = spawn(process.execPath, [script, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4_000);
  });
  const lines = createInterface({ input: child.stdout! });
  const reports: IdleOpenerReport[] = [];
  const waiters: Array<(r: IdleOpenerReport | null) => void> = [];
  lines.on('line', (line) => {
    let report: IdleOpenerReport;
    try {
      report = JSON.parse(line) as IdleOpenerReport;
    } catch {
      return;
    }
    const waiter = waiters.shift();
    if (waiter) waiter(report);
    else reports.push(report);
  });
  child.once('exit', () => {
    for (const w of waiters.splice(0)) w(null);
  });
  const nextReport = (timeoutMs: number) =>
    new Promise<IdleOpenerReport | null>((resolve) => {
      const queued = reports.shift();
      if (queued) return resolve(queued);
      if (child.exitCode !== null || child.signalCode !== null) return resolve(null);
      const timer = setTimeout(() => resolve(null), timeoutMs);
      waiters.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  const first = await nextReport(spec.lifetimeMs);
  if (first?.event !== 'opened') {
    await stopChild(child, 5_000);
    const why =
      first?.event === 'failed'
        ? `${first.error} (${first.opened} of ${spec.count} were open)`
        : `the opener gave no answer: ${stderr.trim().slice(-400) || 'no output'}`;
    throw new Error(`opening ${spec.count} idle connections failed: ${why}`);
  }
  return {
    opened: first.opened,
    ms: first.ms,
    fdLimit: first.fdLimit,
    async close() {
      const closed = nextReport(30_000);
      await stopChild(child, 30_000);
      const r = await closed;
      return r?.event === 'closed' ? r.closed : 0;
    },
  };
}
