// Installs a Debian package with apt-get, for the local servers and test tools a clean machine
// (and CI) lacks. Asynchronous: the install takes minutes on a new machine, and a synchronous call
// froze the test worker's event loop that long. Retries while another apt holds the lock.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** `apt-get update` then `apt-get install -y <pkg>`, again (up to 20 times, 5 s apart) on a lock. */
export async function aptInstall(pkg: string): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (let attempt = 0; ; attempt++) {
    try {
      await execFileAsync('apt-get', ['update', '-qq'], { timeout: 300_000, env });
      await execFileAsync('apt-get', ['install', '-y', '-qq', pkg], { timeout: 600_000, env });
      return;
    } catch (err) {
      // Another apt (another helper, unattended upgrades) holds the lock: wait and try again.
      if (attempt >= 20 || !/lock/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
      await new Promise((r) => setTimeout(r, 5_000));
    }
  }
}
