// Debian's etcd server (package etcd-server): installed with apt when missing, so a clean machine
// (and CI) gets it from the test path itself. Asynchronous like test/support/chromium.ts: a
// synchronous install froze the test worker for minutes (apt-install.ts).
import { existsSync } from 'node:fs';
import { aptInstall } from './apt-install.js';

export const ETCD_BINARY = '/usr/bin/etcd';

export async function ensureEtcd(): Promise<string> {
  if (existsSync(ETCD_BINARY)) return ETCD_BINARY;
  process.stderr.write('etcd: installing Debian etcd-server with apt-get (once per machine)...\n');
  await aptInstall('etcd-server');
  if (!existsSync(ETCD_BINARY)) throw new Error(`apt-get install etcd-server did not provide ${ETCD_BINARY}`);
  return ETCD_BINARY;
}
