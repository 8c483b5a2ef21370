// What the drivers' suite runs share (bench/driver-suites.ts): a private copy of a checkout, the
// result of one suite against one target, and running a suite's process with a time limit.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A private copy of a checkout (or a fresh clone), so the suites' files can be adjusted. */
export function checkout(source: string, name: string): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'sg-suite-')), name);
  if (existsSync(source)) cpSync(source, dir, { recursive: true, filter: (p) => !p.includes('/.git/') });
  else execFileSync('git', ['clone', '--depth', '1', source, dir], { stdio: 'inherit' });
  return dir;
}

export interface Target {
  name: string;
  port: number;
  socketDir: string;
}

export interface SuiteResult {
  target: string;
  passed: number;
  failed: string[];
  /** postgres.js: which tests passed (to compare targets). */
  passedNames?: string[];
  /** postgres.js: rejections its tests left unhandled (printed, the run goes on). */
  unhandledRejections?: number;
  /** When it ran and the machine's 1-minute load then: the suites' time limits fail tests under load. */
  window?: string;
}

/** The commit of a checkout given as a directory (the copies carry no .git), else the source as given. */
export function sourceCommit(source: string): string {
  try {
    return execFileSync('git', ['-C', source, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return source;
  }
}

/** Runs one target's suite and notes its UTC window and the 1-minute load average at both ends. */
export async function timed(run: () => Promise<SuiteResult>): Promise<SuiteResult> {
  const mark = () => `${new Date().toISOString().slice(11, 19)} load ${os.loadavg()[0]!.toFixed(1)}`;
  const start = mark();
  const result = await run();
  return { ...result, window: `${start} -> ${mark()}` };
}

export function runSuiteProcess(
  cmd: string,
  argv: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
  logFile?: string,
  /** The suite printed its summary: a connection it left open must not keep it running. */
  finished?: RegExp,
): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a kill reaches the test processes the runner started, not only
      // the runner (poku's children outlived a SIGKILL of poku and kept connections open).
      detached: true,
    });
    const killAll = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    let out = '';
    const keep = (d: Buffer) => {
      out += d;
      if (logFile) appendFileSync(logFile, d);
      if (finished?.test(out)) setTimeout(killAll, 1_000).unref();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(killAll, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      killAll(); // whatever the runner left behind in its group
      resolve({ out, code });
    });
  });
}
