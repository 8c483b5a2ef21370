// `shardgate start --workers 2` (embedded control plane): worker 0's admin API covers both workers.
// /api/cluster lists the second worker with its own traffic (asked over IPC through the primary),
// and /metrics?scope=cluster carries both workers' series under their instance labels.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import { type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { type StartedProcess, startShardgateProcess } from '../support/start-process.js';

interface ClusterMember {
  id: string;
  reachable: boolean;
  error?: string;
  traffic: { statements: number; errors: number; clientConnections: number } | null;
}

let cluster: PostgresCluster;
let proc: StartedProcess;

beforeAll(async () => {
  cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0, database: 'shardgate' });
  const config: ShardgateConfig = configForLocalShards(
    cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
    {
      database: 'shardgate',
      overrides: {
        workers: 2,
        admin: { token: 'test-token' },
        users: [{ name: 'app', password: 'app', auth: 'scram-sha-256', backend: 'service' }],
        listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
        observability: { history: { enabled: false } },
      },
    },
  );
  proc = await startShardgateProcess(config, 90_000, {}, ['--instance-id', 'sgw']);
}, 180_000);

afterAll(async () => {
  await proc?.stop();
  await cluster?.stop();
});

describe('workers > 1: one view from worker 0', () => {
  it('lists both workers, and their traffic adds up to every client', async () => {
    // Wait until the second worker listens too (its own log line), then spread 6 clients.
    const deadline = Date.now() + 60_000;
    while ((proc.output().match(/postgres front end listening/g) ?? []).length < 2) {
      if (Date.now() > deadline) throw new Error(`second worker did not start:\n${proc.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const clients: pg.Client[] = [];
    for (let i = 0; i < 6; i++) {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: proc.postgresPort,
        user: 'app',
        password: 'app',
        database: 'shardgate',
      });
      c.on('error', () => undefined);
      await c.connect();
      await c.query('SELECT 1');
      clients.push(c);
    }
    try {
      const r = await fetch(`http://127.0.0.1:${proc.adminPort}/api/cluster`);
      const members = ((await r.json()) as { members: ClusterMember[] }).members;
      expect(members.map((m) => [m.id, m.reachable])).toEqual([
        ['sgw', true],
        ['sgw.w1', true],
      ]);
      // The cluster module hands connections to both workers; together they hold all six.
      const held = members.map((m) => m.traffic!.clientConnections);
      expect(held.reduce((a, b) => a + b, 0)).toBe(6);
      expect(Math.min(...held)).toBeGreaterThan(0);
      const text = await (await fetch(`http://127.0.0.1:${proc.adminPort}/metrics?scope=cluster`)).text();
      expect(text).toContain('shardgate_cluster_member_up{instance="sgw.w1"} 1');
      expect(text).toMatch(/^shardgate_client_connections\{instance="sgw\.w1",protocol="postgres"\} [1-9]/m);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  }, 90_000);
});
