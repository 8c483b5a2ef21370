// PostgreSQL refuses to run as root. When we are root, servers run as an unprivileged user:
// `postgres` if it exists, else `shardgate` (created with useradd).
import { execFileSync } from 'node:child_process';

export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

let cached: RunAs | null | undefined;

function lookup(name: string): RunAs | null {
  try {
    const uid = Number(
      execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    );
    const gid = Number(
      execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    );
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid, name } : null;
  } catch {
    return null;
  }
}

/** null when not root (servers run as ourselves). */
export function unprivilegedUser(log?: { info(obj: object, msg?: string): void }): RunAs | null {
  if (cached !== undefined) return cached;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return (cached = null);
  let user = lookup('postgres') ?? lookup('shardgate');
  if (!user) {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'shardgate'], {
      stdio: 'ignore',
    });
    user = lookup('shardgate');
    if (!user)
      throw new Error(
        'running as root and could not create the unprivileged user "shardgate" for PostgreSQL',
      );
  }
  log?.info(
    { user: user.name, uid: user.uid },
    'running as root: database servers run as an unprivileged user',
  );
  return (cached = user);
}
