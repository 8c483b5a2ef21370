// `shardgate txn ...` from dist/ (needs `npm run build`), as an operator runs it against a proxy's
// admin port: its exit code and everything it printed.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../src/local/local-config.js';

export function txnCli(
  adminPort: number,
  token: string,
  ...args: string[]
): Promise<{ code: number; out: string }> {
  const main = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
  const admin = ['--admin-url', `http://127.0.0.1:${adminPort}`, '--token', token];
  return new Promise((resolve) => {
    execFile(process.execPath, [main, 'txn', ...args, ...admin], (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}
