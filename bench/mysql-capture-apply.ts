// Apply rate of the MySQL binlog capture (src/migration/mysql-binlog-capture.ts) alone, the MySQL
// counterpart of capture-apply.ts: a local MariaDB source and two targets; the source gets a
// write mix (each transaction inserts a row, updates one of a few hot rows, and every third one
// deletes an inserted row), then a capture from the position before those writes applies them;
// the rate is the source transactions divided by the time from start to caught up. The targets
// must then hold exactly the source's rows, each on its owner. `--capture <file>` loads the
// capture from another build (e.g. /work/main/dist/src/migration/mysql-binlog-capture.js), so
// two versions are compared in one run, alternated.
// Run: npm run build && node dist/bench/mysql-capture-apply.js [--transactions 3000] [--hot 50]
//        [--rounds 2] [--capture <other build's mysql-binlog-capture.js>]
import { parseKeyRange } from '../src/domain/keyspace.js';
import { type MariadbServer, startMariadbCluster } from '../src/local/mariadb-cluster.js';
import { MysqlBinlogCapture } from '../src/migration/mysql-binlog-capture.js';
import { binlogPositions, openMysql } from '../src/migration/mysql-table.js';
import { keyOwner } from '../src/migration/row-owner.js';
import type { MovedTable, ServerAddress, SplitTarget } from '../src/migration/types.js';
import { hotRowValues, writeHotKeyMix } from './lib/hot-key-mix.js';
import { describeLoad, loadSnapshot } from './lib/machine.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const TRANSACTIONS = Number(flag('transactions', '3000'));
const HOT = Number(flag('hot', '50'));
const ROUNDS = Number(flag('rounds', '2'));
const OTHER = flag('capture', '');
const TABLES: MovedTable[] = [{ name: 'posts', shardKey: 'user_id', keyType: 'int', kind: 'sharded' }];
const RANGES = [parseKeyRange('-80'), parseKeyRange('80-')];
const DDL =
  'CREATE TABLE posts (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, title VARCHAR(64) NOT NULL, body TEXT)';

type Capture = typeof MysqlBinlogCapture;
const versions: Array<{ name: string; capture: Capture }> = [
  { name: 'this build', capture: MysqlBinlogCapture },
];
if (OTHER)
  versions.unshift({
    name: OTHER,
    capture: ((await import(OTHER)) as { MysqlBinlogCapture: Capture }).MysqlBinlogCapture,
  });

const cluster = await startMariadbCluster({ shards: 1, replicasPerShard: 0 });
try {
  const spares = [await cluster.addSpare('t1'), await cluster.addSpare('t2')];
  const address = (s: MariadbServer, database: string): ServerAddress => ({
    name: s.name,
    host: s.host,
    port: s.port,
    user: 'root',
    database,
  });
  const primary = cluster.shards[0]!.primary;
  const src = address(primary, 'shardgate');
  const source = await openMysql(src);
  await source.query(DDL);
  const hotRows = hotRowValues(HOT);
  await source.query(`INSERT INTO posts VALUES ${hotRows.join(', ')}`);
  const [from] = await binlogPositions([src]);
  const changes = await writeHotKeyMix((sql, params) => source.query(sql, params), {
    transactions: TRANSACTIONS,
    hot: HOT,
    param: () => '?',
  });
  const [expected] = await source.query('SELECT id, user_id, title, body FROM posts ORDER BY id');
  await source.end();
  console.log(`${changes} row changes in ${TRANSACTIONS} transactions over ${HOT} hot rows`);
  let run = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of versions) {
      const database = `bench_${run++}`;
      const targets: SplitTarget[] = spares.map((s, i) => ({
        shard: `t${i + 1}`,
        server: address(s, database),
        range: RANGES[i]!,
      }));
      for (const [i, s] of spares.entries()) {
        await cluster.query(s.name, `CREATE DATABASE ${database}`);
        const c = await openMysql(address(s, database));
        await c.query(DDL);
        // The hot rows are where the route puts them, as the copy would have left them.
        const own = hotRows.filter((_, k) => keyOwner(String(k + 1), 'int', RANGES) === i);
        if (own.length > 0) await c.query(`INSERT INTO posts VALUES ${own.join(', ')}`);
        await c.end();
      }
      const loadAt = describeLoad(loadSnapshot());
      const started = performance.now();
      const capture = await v.capture.start({
        source: src,
        targets,
        tables: TABLES,
        fromGtid: from ?? '',
        serverId: 9000 + run,
      });
      await capture.catchUp(30 * 60_000);
      const seconds = (performance.now() - started) / 1000;
      await capture.stop();
      const held: unknown[] = [];
      for (const [i, t] of targets.entries()) {
        const c = await openMysql(t.server);
        const [rows] = await c.query('SELECT id, user_id, title, body FROM posts');
        await c.end();
        for (const r of rows as Array<{ id: string; user_id: string }>)
          if (keyOwner(String(r.user_id), 'int', RANGES) !== i)
            throw new Error(`${v.name}: row ${r.id} on ${t.shard}`);
        held.push(...(rows as unknown[]));
      }
      held.sort((a, b) => Number((a as { id: string }).id) - Number((b as { id: string }).id));
      if (JSON.stringify(held) !== JSON.stringify(expected))
        throw new Error(
          `${v.name}: the targets do not hold the source's rows (${held.length} vs ${(expected as unknown[]).length})`,
        );
      console.log(
        `${v.name}: ${seconds.toFixed(1)} s, ${(TRANSACTIONS / seconds).toFixed(0)} transactions/s, ${(changes / seconds).toFixed(0)} changes/s (rows match; ${loadAt})`,
      );
    }
  }
} finally {
  await cluster.stop();
}
