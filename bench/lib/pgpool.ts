// pgpool-II as a comparison target, in "raw" clustering mode: one backend, no load balancing,
// no health checks, connection caching only. pgpool is a session-level pool (one child process
// per client), so num_init_children is sized to the largest client count.
import { join } from 'node:path';
import { type PoolerInstallOptions, type PoolerTool, preparePooler, type StartResult } from './pooler.js';
import { freePort, startPooler, writeOwnedFile } from './proc.js';
import type { PgEndpoint } from './target.js';

export interface PgpoolConfOptions {
  port: number;
  pcpPort: number;
  dir: string;
  backend: PgEndpoint;
  children: number;
}

export function pgpoolConf(o: PgpoolConfOptions): string {
  const q = (s: string) => `'${s.replaceAll("'", "''")}'`;
  const settings: Array<[string, string | number]> = [
    ['backend_clustering_mode', q('raw')],
    ['listen_addresses', q('127.0.0.1')],
    ['port', o.port],
    ['unix_socket_directories', q(o.dir)],
    ['pcp_listen_addresses', q('')],
    ['pcp_port', o.pcpPort],
    ['pcp_socket_dir', q(o.dir)],
    ['backend_hostname0', q(o.backend.host)],
    ['backend_port0', o.backend.port],
    ['backend_weight0', 1],
    ['backend_flag0', q('ALWAYS_PRIMARY|DISALLOW_TO_FAILOVER')],
    ['enable_pool_hba', 'off'],
    ['num_init_children', o.children],
    ['max_pool', 1],
    ['connection_cache', 'on'],
    ['load_balance_mode', 'off'],
    ['health_check_period', 0],
    ['sr_check_period', 0],
    ['failover_on_backend_error', 'off'],
    ['use_watchdog', 'off'],
    ['memory_cache_enabled', 'off'],
    ['pid_file_name', q(join(o.dir, 'pgpool.pid'))],
    ['logdir', q(o.dir)],
    ['log_destination', q('stderr')],
  ];
  return `${settings.map(([k, v]) => `${k} = ${v}`).join('\n')}\n`;
}

export interface StartPgpoolOptions extends PoolerInstallOptions {
  backend: PgEndpoint;
  /** Largest number of concurrent clients the run will open. */
  maxClients: number;
}

const PGPOOL: PoolerTool = { command: 'pgpool', pkg: 'pgpool2', product: 'pgpool-II' };

export async function startPgpool(options: StartPgpoolOptions): Promise<StartResult> {
  const setup = await preparePooler(PGPOOL, options);
  if (!setup.ok) return setup;
  const { versionText, owner, tmp } = setup;
  const [port, pcpPort] = [await freePort(), await freePort()];
  const confPath = join(tmp.dir, 'pgpool.conf');
  const pcpPath = join(tmp.dir, 'pcp.conf');
  writeOwnedFile(
    confPath,
    pgpoolConf({
      port,
      pcpPort,
      dir: tmp.dir,
      backend: options.backend,
      children: Math.max(8, options.maxClients + 4),
    }),
    owner,
  );
  writeOwnedFile(pcpPath, '', owner);
  // -n: stay in the foreground, so the process is ours to stop.
  const started = await startPooler('pgpool', ['-n', '-f', confPath, '-F', pcpPath], {
    port,
    tmp,
    owner,
    timeoutMs: 20_000,
  });
  if (!('service' in started)) return { ok: false, note: started.note };
  const { service } = started;
  return {
    ok: true,
    target: {
      name: 'pgpool',
      host: '127.0.0.1',
      port,
      user: options.backend.user,
      database: options.backend.database,
      version: versionText,
      unsupportedModes: {},
      async stop() {
        // SIGINT is pgpool's fast shutdown (SIGTERM waits for clients to leave).
        await service.stop(10_000, 'SIGINT');
        tmp.remove();
      },
    },
  };
}
