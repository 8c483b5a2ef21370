// `shardgate start --workers 2` (embedded control plane): worker 0's admin API covers both workers.
// /api/cluster lists the second worker with its own traffic (asked over IPC through the primary),
// and /metrics?scope=cluster carries both workers' series under their instance labels.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { childPgClient } from '../support/child-clients.js';
import { bothWorkersListening, pgWorkersSuite } from '../support/integ-pg-workers.js';

interface ClusterMember {
  id: string;
  reachable: boolean;
  error?: string;
  traffic: { statements: number; errors: number; clientConnections: number } | null;
}

const w = pgWorkersSuite('sgw');

describe('workers > 1: one view from worker 0', () => {
  it('lists both workers, and their traffic adds up to every client', async () => {
    // Wait until the second worker listens too (its own log line), then spread 6 clients.
    const { proc } = w;
    await bothWorkersListening(proc);
    const clients: pg.Client[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await childPgClient(proc);
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
