// pgbench's tables on a PostgreSQL a script launched, and one shardgate of this checkout in front
// of it (one worker, transaction pooling, pool 20, user `bench` by trust): what the PostgreSQL
// hot-path scripts that watch the proxy process itself (profile-pgbench.ts, cpu-split.ts) start.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/local/ports.js';
import { untilPgbenchConnects } from './pgbench.js';

export interface PgbenchShardgate {
  /** shardgate's PostgreSQL port (pgbench logs in as `bench`). */
  port: number;
  child: ChildProcess;
}

export async function startPgbenchShardgate(o: {
  pgbench: string;
  primaryPort: number;
  /** Where the config file goes. */
  dir: string;
  /** YAML flow entries added to the pool section, e.g. 'multiplex: { enabled: false }'. */
  poolExtra?: string;
  /** node's own flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  stdio?: 'inherit' | 'ignore';
}): Promise<PgbenchShardgate> {
  execFileSync(
    o.pgbench,
    ['-i', '-s', '10', '-q', '-h', '127.0.0.1', '-p', String(o.primaryPort), '-U', 'postgres', 'bench'],
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const file = join(o.dir, 'shardgate.yaml');
  writeFileSync(
    file,
    `listen: { postgres: { host: 127.0.0.1, port: ${port} }, admin: { host: 127.0.0.1, port: ${await freePort()} } }
users: [{ name: bench, password: '', auth: trust, backend: service }]
backend: { user: postgres, database: bench }
pool: { mode: transaction, size: 20${o.poolExtra ? `, ${o.poolExtra}` : ''} }
shards:
  - { name: s0, keyRange: '-', primary: { host: 127.0.0.1, port: ${o.primaryPort} } }
log: { level: warn }
`,
  );
  const child = spawn(
    process.execPath,
    [...(o.nodeArgs ?? []), join(resolve('.'), 'dist', 'src', 'cli', 'main.js'), 'start', '--config', file],
    { stdio: o.stdio ?? 'ignore' },
  );
  try {
    await untilPgbenchConnects(o.pgbench, port);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { port, child };
}
