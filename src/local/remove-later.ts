// Removes a throwaway directory tree (a stopped cluster's data) in a detached `rm -rf`, so the
// caller does not wait seconds for hundreds of megabytes of database files on a busy disk.
import { spawn } from 'node:child_process';

export function removeInBackground(dir: string): void {
  const child = spawn('rm', ['-rf', '--', dir], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined); // no rm: the directory stays in the temporary directory
  child.unref();
}
