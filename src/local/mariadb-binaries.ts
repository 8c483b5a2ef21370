// Finds the MariaDB server binaries (Debian package mariadb-server) and the OS user to run them as.
// $SHARDGATE_MARIADBD and $SHARDGATE_MARIADB_INSTALL_DB override the Debian paths.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type RunAs, unprivilegedUser } from './os-user.js';

export interface MariadbBinaries {
  mariadbd: string;
  installDb: string;
}

const DEFAULT_MARIADBD = '/usr/sbin/mariadbd';
const DEFAULT_INSTALL_DB = '/usr/bin/mariadb-install-db';

export function findMariadbBinaries(): MariadbBinaries {
  const mariadbd = process.env.SHARDGATE_MARIADBD || DEFAULT_MARIADBD;
  const installDb = process.env.SHARDGATE_MARIADB_INSTALL_DB || DEFAULT_INSTALL_DB;
  const missing = [mariadbd, installDb].filter((p) => !existsSync(p));
  if (missing.length > 0)
    throw new Error(
      `MariaDB server binaries not found (${missing.join(', ')}): install them with ` +
        '`apt-get install mariadb-server` (or set SHARDGATE_MARIADBD and SHARDGATE_MARIADB_INSTALL_DB)',
    );
  return { mariadbd, installDb };
}

function lookupUser(name: string): RunAs | null {
  try {
    const id = (flag: string) =>
      Number(
        execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
      );
    const uid = id('-u');
    const gid = id('-g');
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid, name } : null;
  } catch {
    return null;
  }
}

/**
 * mariadbd refuses to start as root unless given --user. Rather than running the database as root
 * (`--user=root`), we start it directly as the packaged `mysql` user (as Debian's service does;
 * the PostgreSQL launcher does the same with its own user), falling back to the launcher's
 * unprivileged user. null when we are not root: the servers run as ourselves.
 */
export function mariadbRunAs(log?: { info(obj: object, msg?: string): void }): RunAs | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  return lookupUser('mysql') ?? unprivilegedUser(log);
}
