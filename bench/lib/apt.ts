// Install-on-demand for tools a benchmark compares against (pgbouncer, pgpool2, sysbench).
// Says what it does; when apt fails, the caller skips the target with the returned note.
import { commandExists, runCommand } from './proc.js';

export interface EnsureResult {
  ok: boolean;
  /** True when this call installed the package. */
  installed: boolean;
  /** Why it is unavailable (ok=false), for the console and the JSON. */
  note?: string;
}

export interface EnsureOptions {
  /** Executable to look for on PATH (or an absolute path). */
  command: string;
  /** Debian package that provides it. */
  pkg: string;
  say?: (line: string) => void;
  /** Do not install, only check (e.g. --no-install). */
  noInstall?: boolean;
}

let updated: Promise<boolean> | undefined;

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/** Finds `command`, else installs `pkg` with apt-get (update once per process, then install). */
export async function ensureCommand(options: EnsureOptions): Promise<EnsureResult> {
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  if (await commandExists(options.command)) return { ok: true, installed: false };
  if (options.noInstall)
    return { ok: false, installed: false, note: `${options.command} not installed (install skipped)` };
  if (!(await commandExists('apt-get'))) {
    return {
      ok: false,
      installed: false,
      note: `${options.command} not installed and apt-get is not available`,
    };
  }
  if (!updated) {
    say('bench: running apt-get update (once) ...');
    updated = runCommand('apt-get', ['update'], { timeoutMs: 180_000, env: APT_ENV }).then((r) => {
      if (r.code !== 0) say(`bench: apt-get update failed: ${lastLines(r.stderr || r.stdout)}`);
      return r.code === 0;
    });
  }
  await updated; // an old package list may still install, so go on even if the update failed
  say(`bench: ${options.command} not found: running apt-get install -y ${options.pkg} ...`);
  const r = await runCommand('apt-get', ['install', '-y', '--no-install-recommends', options.pkg], {
    timeoutMs: 300_000,
    env: APT_ENV,
  });
  if (r.code !== 0 || !(await commandExists(options.command))) {
    const why = r.timedOut ? 'timed out' : lastLines(r.stderr || r.stdout);
    return { ok: false, installed: false, note: `apt-get install ${options.pkg} failed: ${why}` };
  }
  say(`bench: installed ${options.pkg}`);
  return { ok: true, installed: true };
}
