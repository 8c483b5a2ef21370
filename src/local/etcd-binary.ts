// Debian's etcd server (package etcd-server): installed with apt when missing, so a clean machine
// (and CI) gets it from the test path itself. Asynchronous like test/support/chromium.ts: a
// synchronous install froze the test worker for minutes. Retries while another apt holds the lock.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

export const ETCD_BINARY = '/usr/bin/etcd';

const execFileAsync = promisify(execFile);

export async function ensureEtcd(): Promise<string> {
  if (existsSync(ETCD_BINARY)) return ETCD_BINARY;
  process.stderr.write('etcd: installing Debian etcd-server with apt-get (once per machine)...\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (let attempt = 0; ; attempt++) {
    try {
      await execFileAsync('apt-get', ['update', '-qq'], { timeout: 300_000, env });
      await execFileAsync('apt-get', ['install', '-y', '-qq', 'etcd-server'], { timeout: 600_000, env });
      break;
    } catch (err) {
      if (attempt >= 20 || !/lock/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
      await new Promise((r) => setTimeout(r, 5_000));
    }
  }
  if (!existsSync(ETCD_BINARY)) throw new Error(`apt-get install etcd-server did not provide ${ETCD_BINARY}`);
  return ETCD_BINARY;
}
