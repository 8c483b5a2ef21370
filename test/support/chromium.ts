// Debian's Chromium for the headless dashboard test: installed with apt when missing, so a clean
// machine (and CI) gets it from the test path itself, not by hand.
//
// The install runs asynchronously: it takes minutes on a new machine, and a synchronous call
// froze the test worker's event loop for that long, so vitest's 60 s RPC to its main process
// timed out ("Timeout calling onTaskUpdate") and the whole run failed though every test passed.
// That was the suite's one failure in five fresh-clone runs: the first run on a new machine.
import { existsSync } from 'node:fs';
import { aptInstall } from '../../src/local/apt-install.js';

export const CHROMIUM = '/usr/bin/chromium';

export async function ensureChromium(): Promise<string> {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  process.stderr.write('dashboard test: installing Debian chromium with apt-get (once per machine)...\n');
  await aptInstall('chromium');
  if (!existsSync(CHROMIUM)) throw new Error('apt-get install chromium did not provide /usr/bin/chromium');
  return CHROMIUM;
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
