// Apply rate of the change capture (src/migration/applier.ts), before and after coalescing, in
// one run: a local source and two destinations; the source gets a hot-key write mix (each
// transaction inserts a row, updates one of a few hot rows, and every third one deletes an
// inserted row), streamed to two slots made before the writes. Each slot is applied once by a
// ChangeApplier, in source order (`coalesce: false`, what every change went through before) and
// coalesced, into its own databases; the rate is the changes divided by the time from start to
// caught up. Each run's destinations must then hold exactly the source's rows of their keys.
// Run: npm run build && node dist/bench/capture-apply.js [--transactions 1500] [--hot 50]
import { parseKeyRange } from '../src/domain/keyspace.js';
import { startPostgresCluster } from '../src/local/postgres-cluster.js';
import { ChangeApplier } from '../src/migration/applier.js';
import { openClient } from '../src/migration/pg-connect.js';
import { keyOwner, routeByShardKey } from '../src/migration/row-owner.js';
import type { MovedTable, ServerAddress } from '../src/migration/types.js';
import { hotRowValues, writeHotKeyMix } from './lib/hot-key-mix.js';
import { describeLoad, loadSnapshot } from './lib/machine.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const TRANSACTIONS = flag('transactions', 1_500);
const HOT = flag('hot', 50);
const TABLES: MovedTable[] = [{ name: 'posts', shardKey: 'user_id', keyType: 'int' }];
const RANGES = [parseKeyRange('-80'), parseKeyRange('80-')];
const DDL =
  'CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint NOT NULL, title text NOT NULL, body text)';
const MODES = [
  { name: 'in order (before)', coalesce: false },
  { name: 'coalesced (after)', coalesce: true },
] as const;

const cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0 });
try {
  await Promise.all([cluster.addSpare('t1'), cluster.addSpare('t2')]);
  const address = (name: string, database: string): ServerAddress => {
    const s = cluster.server(name);
    return { name, host: s.host, port: s.port, user: 'postgres', database };
  };
  await cluster.query('s0-primary', 'CREATE DATABASE bench_src');
  const src = address('s0-primary', 'bench_src');
  const source = await openClient(src, 'bench');
  await source.query(DDL);
  await source.query(`INSERT INTO posts VALUES ${hotRowValues(HOT).join(', ')}`);
  await source.query('CREATE PUBLICATION bench_pub FOR TABLE posts');
  for (const m of MODES.keys()) {
    await source.query(`SELECT pg_create_logical_replication_slot('bench_${m}', 'pgoutput')`);
    for (const t of ['t1', 't2']) {
      await cluster.query(t, `CREATE DATABASE bench_${m}`);
      const c = await openClient(address(t, `bench_${m}`), 'bench');
      await c.query(DDL);
      // The hot rows are where the route puts them, as a copy would have left them.
      const own = [...Array(HOT).keys()].filter(
        (i) => keyOwner(String(i + 1), 'int', RANGES) === (t === 't1' ? 0 : 1),
      );
      for (const i of own) await c.query(`INSERT INTO posts VALUES (${i + 1}, ${i + 1}, 'hot', 'body')`);
      await c.end();
    }
  }
  // The write mix: 2 or 3 row changes per transaction, on few hot keys.
  const changes = await writeHotKeyMix((sql, params) => source.query(sql, params), {
    transactions: TRANSACTIONS,
    hot: HOT,
    param: (n) => `$${n}`,
  });
  const expected = (
    await source.query('SELECT id::text, user_id::text, title, body FROM posts ORDER BY posts.id')
  ).rows;
  console.log(`${changes} row changes in ${TRANSACTIONS} transactions over ${HOT} hot rows`);
  for (const [m, mode] of MODES.entries()) {
    const loadAt = describeLoad(loadSnapshot());
    const applier = new ChangeApplier({
      source: src,
      slot: `bench_${m}`,
      publication: 'bench_pub',
      destinations: ['t1', 't2'].map((t) => address(t, `bench_${m}`)),
      tables: TABLES,
      route: routeByShardKey(TABLES, RANGES),
      coalesce: mode.coalesce,
    });
    const started = performance.now();
    await applier.start();
    await applier.catchUp(30_000, { whileProgressing: { maxMs: 30 * 60_000 } });
    const seconds = (performance.now() - started) / 1000;
    await applier.stop();
    // What the destinations hold together must be the source's rows, each on its owner only.
    const held: Array<Record<string, string>> = [];
    for (const [i, t] of ['t1', 't2'].entries()) {
      const c = await openClient(address(t, `bench_${m}`), 'bench');
      const rows = (await c.query('SELECT id::text, user_id::text, title, body FROM posts')).rows;
      await c.end();
      for (const r of rows)
        if (keyOwner(r.user_id, 'int', RANGES) !== i) throw new Error(`${mode.name}: row ${r.id} on ${t}`);
      held.push(...rows);
    }
    held.sort((a, b) => Number(a.id) - Number(b.id));
    if (JSON.stringify(held) !== JSON.stringify(expected)) {
      const want = new Set(expected.map((r) => JSON.stringify(r)));
      const have = new Set(held.map((r) => JSON.stringify(r)));
      const missing = [...want].filter((r) => !have.has(r)).slice(0, 3);
      const extra = [...have].filter((r) => !want.has(r)).slice(0, 3);
      throw new Error(
        `${mode.name}: the destinations do not hold the source's rows (${held.length} vs ${expected.length}; missing ${missing.join(' ')}; extra ${extra.join(' ')})`,
      );
    }
    console.log(
      `${mode.name.padEnd(18)} ${seconds.toFixed(1).padStart(6)} s  ${(changes / seconds).toFixed(0).padStart(6)} changes/s  (rows match; ${loadAt})`,
    );
  }
  await source.end();
} finally {
  await cluster.stop();
}
