// The private PostgreSQL primary the pgbench-driven scenarios (pgbench, idle) measure against:
// one shard without replicas, database "bench", reached as the launcher's superuser. Its version
// goes into the report's tool versions.
import { startPostgresCluster } from '../../src/local/postgres-cluster.js';
import type { MachineInfo } from './machine.js';
import { psql } from './pgbench.js';
import type { ScenarioRun } from './scenario.js';
import type { PgEndpoint } from './target.js';

export const BENCH_DATABASE = 'bench';

/** The launcher's superuser, from the server URL it reports ("postgres" when it names none). */
export function superuserOf(url: string | undefined): string {
  try {
    const user = url ? decodeURIComponent(new URL(url).username) : '';
    return user || 'postgres';
  } catch {
    return 'postgres';
  }
}

/**
 * Starts the primary (stopped with the run), records "PostgreSQL <version>" in
 * machine.versions.postgresql and returns the endpoint and the server version.
 */
export async function startBenchPrimary(
  run: ScenarioRun,
  machine: MachineInfo,
  settings?: Record<string, string>,
): Promise<{ backend: PgEndpoint; version: string }> {
  run.tell('starting a private PostgreSQL primary ...');
  const cluster = run.track(
    await startPostgresCluster({
      shards: 1,
      replicasPerShard: 0,
      database: BENCH_DATABASE,
      ...(settings ? { settings } : {}),
    }),
  );
  const primary = cluster.shards[0]?.primary;
  if (!primary) throw new Error('the PostgreSQL launcher returned no primary');
  const backend: PgEndpoint = {
    host: primary.host,
    port: primary.port,
    user: superuserOf(primary.url),
    database: BENCH_DATABASE,
  };
  const version = await psql(backend, 'SHOW server_version');
  machine.versions.postgresql = `PostgreSQL ${version}`;
  return { backend, version };
}
