// Files that may hold secrets or operational state (migration state, the demo's state file with
// its admin token) are readable by their owner only: 0600 files in 0700 directories.
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Creates the directory (and missing parents) with mode 0700; an existing directory is left as is. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Writes atomically (temp file + rename) with mode 0600, whatever the umask or an older file's mode. */
export function writePrivateFile(file: string, text: string): void {
  ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
