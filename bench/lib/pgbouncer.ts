// PgBouncer as a comparison target: transaction pooling, trust auth, loopback only, run as the
// "postgres" system user (PgBouncer refuses to run as root), stopped with the benchmark.
import { join } from 'node:path';
import { type PoolerInstallOptions, type PoolerTool, preparePooler, type StartResult } from './pooler.js';
import { freePort, startPooler, writeOwnedFile } from './proc.js';
import type { PgEndpoint } from './target.js';

export interface PgbouncerIniOptions {
  listenPort: number;
  backend: PgEndpoint;
  dir: string;
  poolSize: number;
  maxClientConn: number;
  /** 0 leaves the setting out (PgBouncer before 1.21 does not know it). */
  maxPreparedStatements: number;
}

/** "PgBouncer 1.18.0" -> [1, 18, 0]; null when no version is found. */
export function parseVersion(text: string): [number, number, number] | null {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** Prepared statements in transaction mode arrived in PgBouncer 1.21. */
export function supportsPreparedStatements(version: [number, number, number] | null): boolean {
  if (!version) return false;
  const [major, minor] = version;
  return major > 1 || (major === 1 && minor >= 21);
}

export function pgbouncerIni(o: PgbouncerIniOptions): string {
  const b = o.backend;
  const lines = [
    '[databases]',
    `${b.database} = host=${b.host} port=${b.port} dbname=${b.database} user=${b.user}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${o.listenPort}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(o.dir, 'userlist.txt')}`,
    `admin_users = ${b.user}`,
    'pool_mode = transaction',
    `default_pool_size = ${o.poolSize}`,
    `max_client_conn = ${o.maxClientConn}`,
    'ignore_startup_parameters = extra_float_digits,options',
    `pidfile = ${join(o.dir, 'pgbouncer.pid')}`,
    'log_connections = 0',
    'log_disconnections = 0',
  ];
  if (o.maxPreparedStatements > 0) lines.push(`max_prepared_statements = ${o.maxPreparedStatements}`);
  return `${lines.join('\n')}\n`;
}

export function userlist(users: readonly string[]): string {
  return `${users.map((u) => `"${u.replaceAll('"', '""')}" ""`).join('\n')}\n`;
}

export interface StartPgbouncerOptions extends PoolerInstallOptions {
  backend: PgEndpoint;
  poolSize?: number;
  maxClientConn?: number;
}

const PGBOUNCER: PoolerTool = { command: 'pgbouncer', pkg: 'pgbouncer', product: 'PgBouncer' };

export async function startPgbouncer(options: StartPgbouncerOptions): Promise<StartResult> {
  const setup = await preparePooler(PGBOUNCER, options);
  if (!setup.ok) return setup;
  const { versionText, owner, tmp } = setup;
  const version = parseVersion(versionText);
  const prepared = supportsPreparedStatements(version);
  const port = await freePort();
  const iniPath = join(tmp.dir, 'pgbouncer.ini');
  writeOwnedFile(
    iniPath,
    pgbouncerIni({
      listenPort: port,
      backend: options.backend,
      dir: tmp.dir,
      poolSize: options.poolSize ?? 20,
      maxClientConn: options.maxClientConn ?? 500,
      maxPreparedStatements: prepared ? 200 : 0,
    }),
    owner,
  );
  writeOwnedFile(join(tmp.dir, 'userlist.txt'), userlist([options.backend.user]), owner);
  const started = await startPooler('pgbouncer', [iniPath], { port, tmp, owner, timeoutMs: 15_000 });
  if (!('service' in started)) return { ok: false, note: started.note };
  const { service } = started;
  const unsupportedModes: Record<string, string> = {};
  if (!prepared) {
    unsupportedModes.prepared = `${versionText} has no prepared-statement support in transaction mode (needs 1.21+)`;
  }
  return {
    ok: true,
    target: {
      name: 'pgbouncer',
      host: '127.0.0.1',
      port,
      user: options.backend.user,
      database: options.backend.database,
      version: versionText,
      unsupportedModes,
      ...(service.child.pid !== undefined ? { pid: service.child.pid } : {}),
      async stop() {
        await service.stop();
        tmp.remove();
      },
    },
  };
}
