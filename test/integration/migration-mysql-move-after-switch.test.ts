// After a MySQL table move's switch, as an operator runs it against a real `shardgate start`
// process (dist/) and MariaDB servers from the launcher: the new home's reverse binlog capture
// carries each write to the moved table made through port 6033 back to its old shard, so `migrate
// rollback` returns the table to s0 with every acknowledged write (ids, count and sum compared);
// a second move is verified again after its switch while writes go on, and cleaned up, which empties the old copy on
// s0 while s1 serves every write.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { MysqlMigrationDriver, notOnce } from '../support/mysql-migration-driver.js';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

const TOKEN = 'mysql-move-after-token';
const USERS = Array.from({ length: 40 }, (_, i) => i + 1);

let fx: MysqlProxyFixture;
let config: ShardgateConfig;
let d: MysqlMigrationDriver;

const primaryOf = (shard: string) => fx.cluster.shards.find((s) => s.name === shard)!.primary.name;

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: 40 });
  d = new MysqlMigrationDriver(TOKEN, fx.cluster);
  // Two unsharded tables of the MySQL front end, on its default shard s0 (no `home`).
  const s0 = primaryOf('s0');
  for (const table of ['site_notes', 'site_tags']) {
    await fx.cluster.query(s0, `CREATE TABLE ${table} (id INT PRIMARY KEY, body VARCHAR(20))`);
    await fx.cluster.query(s0, `INSERT INTO ${table} VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
  }
  config = {
    ...fx.config,
    admin: { ...fx.config.admin, token: TOKEN },
    migration: {
      ...fx.config.migration,
      stateDir: join(mkdtempSync(join(tmpdir(), 'sg-mysql-move-after-')), 'migrations'),
      cutoverDeadlineMs: 15_000,
      inflightGraceMs: 200,
    },
  };
  d.proc = await startShardgateProcess(config, 90_000);
}, 240_000);

afterAll(async () => {
  await d?.proc?.stop();
  await fx?.stop();
});

/** Ids of the likes writes beside a table's writes, away from the demo rows. */
const likesBase = (base: number) => 60_000_000 + base * 1000;

function writers(table: string, base: number) {
  const rows = d.startWriter(base, (c, id) =>
    c.query(`INSERT INTO ${table} (id, body) VALUES (?, ?)`, [id, `n${id}`]),
  );
  // Writes to a sharded table on both shards go on through the move and its rollback.
  const likes = d.startWriter(likesBase(base), (c, id) =>
    c.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)', [id, USERS[id % USERS.length]]),
  );
  return { rows, likes, stop: () => Promise.all([rows.stop(), likes.stop()]) };
}

async function move(table: string): Promise<string> {
  const started = await d.migrate('move-table', table, '--to', 's1', '--no-follow', '--json');
  expect(started.stderr).toBe('');
  expect(started.status).toBe(0);
  return (JSON.parse(started.stdout) as { id: string }).id;
}

/** count(*) and sum(id) of a table's rows at or above `from` on a server. */
async function countSum(server: string, table: string, from: number): Promise<{ n: number; sum: number }> {
  const [r] = await fx.cluster.query<{ n: number | string; s: number | string | null }>(
    server,
    `SELECT count(*) AS n, sum(id) AS s FROM ${table} WHERE id >= ${from}`,
  );
  return { n: Number(r!.n), sum: Number(r!.s ?? 0) };
}

const total = (ids: readonly number[]) => ({ n: ids.length, sum: ids.reduce((n, a) => n + a, 0) });

/** Every acknowledged likes write once over both shards (the move never touches likes). */
async function likesOnce(acked: readonly number[], from: number): Promise<string[]> {
  const held = await Promise.all(['s0', 's1'].map((s) => d.countsOn(primaryOf(s), 'likes', from)));
  const sum = new Map<number, number>();
  for (const m of held) for (const [k, n] of m) sum.set(k, (sum.get(k) ?? 0) + n);
  return notOnce(acked, sum);
}

describe('MySQL table move after its switch', () => {
  it('rolls back through the proxy: every write made on the new home is on s0', async () => {
    const base = 1_000;
    const w = writers('site_notes', base);
    let id = '';
    try {
      await waitFor('the first writes', () => w.rows.acked.length > 20, 60_000, 20);
      id = await move('site_notes');
      const state = await d.until(id, 'verified');
      expect(state.plan.operation).toBe('move');
      expect(state.mysql?.reverseGtid).toHaveLength(1);
      const atSwitch = w.rows.acked.length;
      await waitFor('writes on s1', () => w.rows.acked.length >= atSwitch + 40, 60_000, 20);
      const c = await d.connect();
      try {
        await c.query("UPDATE site_notes SET body = 'changed' WHERE id = 2");
        await c.query('DELETE FROM site_notes WHERE id = 3');
      } finally {
        await c.end();
      }
      const back = await d.migrate('rollback', id, '--json');
      expect(back.stderr).toBe('');
      expect(back.status).toBe(0);
      const rolled = await d.until(id, 'rolled_back');
      expect(rolled.cutovers.at(-1)?.outcome).toBe('switched');
      const atRollback = w.rows.acked.length;
      await waitFor('writes after the rollback', () => w.rows.acked.length >= atRollback + 20, 60_000, 20);
    } finally {
      await w.stop();
    }
    expect(w.rows.errors).toEqual([]);
    expect(w.likes.errors).toEqual([]);
    // On s0 every acknowledged write once, the ones made on s1 included; count and sum compared.
    const onS0 = await d.countsOn(primaryOf('s0'), 'site_notes', base);
    expect(notOnce(w.rows.acked, onS0)).toEqual([]);
    expect(await countSum(primaryOf('s0'), 'site_notes', base)).toEqual(total(w.rows.acked));
    expect(
      await fx.cluster.query(primaryOf('s0'), 'SELECT id, body FROM site_notes WHERE id < 10 ORDER BY id'),
    ).toEqual([
      { id: 1, body: 'a' },
      { id: 2, body: 'changed' },
    ]);
    expect(await likesOnce(w.likes.acked, likesBase(base))).toEqual([]);
    // Through the proxy the table is read from s0 again; a new write lands there, not on s1.
    const reader = await d.connect();
    try {
      const [rows] = await reader.query(`SELECT id FROM site_notes WHERE id >= ${base}`);
      const seen = new Map<number, number>();
      for (const r of rows as Array<{ id: number }>) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
      expect(notOnce(w.rows.acked, seen)).toEqual([]);
      await reader.query("INSERT INTO site_notes VALUES (999, 'z')");
      expect((await d.countsOn(primaryOf('s0'), 'site_notes', 999)).get(999)).toBe(1);
      expect((await d.countsOn(primaryOf('s1'), 'site_notes', 999)).has(999)).toBe(false);
    } finally {
      await reader.end();
    }
    expect((await d.migrate('cleanup', id)).status).not.toBe(0);
  }, 900_000);

  it('verifies again after the switch, then cleanup empties the old copy on s0', async () => {
    const base = 2_000;
    const w = writers('site_tags', base);
    let id = '';
    try {
      await waitFor('the first writes', () => w.rows.acked.length > 20, 60_000, 20);
      id = await move('site_tags');
      await d.until(id, 'verified');
      const atSwitch = w.rows.acked.length;
      await waitFor('writes on s1', () => w.rows.acked.length >= atSwitch + 40, 60_000, 20);
      // Verification again while the writes to the moved table go on through port 6033: each table
      // is compared at one point, so the reverse capture's lag is no difference.
      await d.verifyWhileWriting(id, w.rows);
      await w.rows.stop();
      const cleanup = await d.migrate('cleanup', id, '--json');
      expect(cleanup.stderr).toBe('');
      expect(cleanup.status).toBe(0);
      await d.until(id, 'cleaned');
    } finally {
      await w.stop();
    }
    expect(w.rows.errors).toEqual([]);
    expect(w.likes.errors).toEqual([]);
    // The old copy is gone (the table stays, empty); s1 holds and serves every write once.
    expect(await countSum(primaryOf('s0'), 'site_tags', 0)).toEqual({ n: 0, sum: 0 });
    expect(await countSum(primaryOf('s1'), 'site_tags', base)).toEqual(total(w.rows.acked));
    expect(notOnce(w.rows.acked, await d.countsOn(primaryOf('s1'), 'site_tags', base))).toEqual([]);
    expect(await likesOnce(w.likes.acked, likesBase(base))).toEqual([]);
    // The other unsharded table and the sharded ones on s0 were not touched by the cleanup.
    expect(await countSum(primaryOf('s0'), 'site_notes', 0)).not.toEqual({ n: 0, sum: 0 });
    const reader = await d.connect();
    try {
      const [rows] = await reader.query('SELECT count(*) AS n FROM site_tags');
      expect(Number((rows as Array<{ n: number | string }>)[0]!.n)).toBe(w.rows.acked.length + 3);
      // A write after the cleanup reaches s1 only.
      await reader.query("INSERT INTO site_tags VALUES (999, 'z')");
      expect((await d.countsOn(primaryOf('s1'), 'site_tags', 999)).get(999)).toBe(1);
      expect(await countSum(primaryOf('s0'), 'site_tags', 0)).toEqual({ n: 0, sum: 0 });
    } finally {
      await reader.end();
    }
  }, 900_000);
});
