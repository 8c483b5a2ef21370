// A `shardgate start` process with `workers: 2` (embedded control plane, no etcd) in front of one
// local PostgreSQL shard, for the tests of what the workers share: the rules, the cluster view.
import { afterAll, beforeAll } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import { type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { type StartedProcess, startShardgateProcess } from './start-process.js';
import { waitFor } from './wait-for.js';

export const WORKERS_ADMIN_TOKEN = 'test-token';

export interface PgWorkersSuite {
  cluster: PostgresCluster;
  proc: StartedProcess;
}

/** Started in beforeAll (worker 0's instance id is `instanceId`, worker 1's `<instanceId>.w1`), stopped in afterAll. */
export function pgWorkersSuite(instanceId: string): PgWorkersSuite {
  const s = {} as PgWorkersSuite;
  beforeAll(async () => {
    s.cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0, database: 'shardgate' });
    const config: ShardgateConfig = configForLocalShards(
      s.cluster.shards.map((sh) => ({ name: sh.name, primary: sh.primary, replicas: sh.replicas })),
      {
        database: 'shardgate',
        overrides: {
          workers: 2,
          admin: { token: WORKERS_ADMIN_TOKEN },
          users: [{ name: 'app', password: 'app', auth: 'scram-sha-256', backend: 'service' }],
          listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
          observability: { history: { enabled: false } },
        },
      },
    );
    // Two workers load dist/ each before either listens: slow on a loaded machine, so a generous bound.
    s.proc = await startShardgateProcess(config, 180_000, {}, ['--instance-id', instanceId]);
  }, 300_000);
  afterAll(async () => {
    await s.proc?.stop();
    await s.cluster?.stop();
  });
  return s;
}

/** Waits until both workers logged that their PostgreSQL front end listens (failing with the output). */
export async function bothWorkersListening(proc: StartedProcess): Promise<void> {
  try {
    await waitFor(
      'both workers listen',
      () => (proc.output().match(/postgres front end listening/g) ?? []).length >= 2,
      60_000,
      100,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}:\n${proc.output()}`);
  }
}
