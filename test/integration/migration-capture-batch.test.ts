// The change capture's batches against real servers: one source, two destinations split by
// user_id. Source transactions with many changes to few keys (coalesced to one image per key),
// rows moving between destinations, deletes and re-inserts, and tables whose rows a constraint
// ties together (a unique email swapped between two rows, a foreign key re-pointed before its
// parent goes), which must be applied in source order: a coalesced swap would violate the
// unique index. Afterwards each destination holds exactly the source's rows that it owns.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { ChangeApplier } from '../../src/migration/applier.js';
import { openClient } from '../../src/migration/pg-connect.js';
import { keyOwner, routeByShardKey } from '../../src/migration/row-owner.js';
import type { MovedTable, ServerAddress } from '../../src/migration/types.js';

const RANGES = [parseKeyRange('-80'), parseKeyRange('80-')];
const TABLES: MovedTable[] = ['counters', 'accounts', 'parents', 'children'].map((name) => ({
  name,
  shardKey: 'user_id',
  keyType: 'int',
}));
const DDL = [
  'CREATE TABLE counters (id bigint PRIMARY KEY, user_id bigint NOT NULL, v int NOT NULL, note text)',
  'CREATE TABLE accounts (id bigint PRIMARY KEY, user_id bigint NOT NULL, email text NOT NULL UNIQUE)',
  'CREATE TABLE parents (id bigint PRIMARY KEY, user_id bigint NOT NULL)',
  'CREATE TABLE children (id bigint PRIMARY KEY, user_id bigint NOT NULL, parent_id bigint NOT NULL REFERENCES parents (id))',
];
const DESTINATIONS = ['t1', 't2'];

let cluster: PostgresCluster;

beforeAll(async () => {
  cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0 });
  await Promise.all(DESTINATIONS.map((t) => cluster.addSpare(t)));
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

function address(name: string): ServerAddress {
  const s = cluster.server(name);
  return { name, host: s.host, port: s.port, user: 'postgres', database: 'capb' };
}

async function rowsOf(c: pg.Client, table: string): Promise<string[]> {
  const r = await c.query(`SELECT t::text AS row, user_id::text AS u FROM ${table} t ORDER BY id`);
  return r.rows.map((x) => `${x.u}|${x.row}`);
}

describe('change capture batches', () => {
  it('coalesces hot keys and moves, keeps constrained tables in order: destinations hold the source rows', async () => {
    for (const name of ['s0-primary', ...DESTINATIONS]) {
      await cluster.query(name, 'CREATE DATABASE capb');
      const c = await openClient(address(name), 'test');
      for (const ddl of DDL) await c.query(ddl);
      await c.end();
    }
    const source = await openClient(address('s0-primary'), 'test');
    await source.query(`CREATE PUBLICATION capb_pub FOR TABLE ${TABLES.map((t) => t.name).join(', ')}`);
    await source.query(`SELECT pg_create_logical_replication_slot('capb_slot', 'pgoutput')`);
    // Written before the capture starts, so it streams them as a backlog in large batches.
    for (let n = 0; n < 40; n++) {
      await source.query('BEGIN');
      for (let k = 0; k < 25; k++) {
        const id = k % 8;
        await source.query(
          `INSERT INTO counters VALUES ($1, $2, 1, 'x') ON CONFLICT (id) DO UPDATE SET v = counters.v + 1, user_id = $2`,
          [id, (n + k) % 5],
        );
      }
      if (n % 4 === 1) await source.query('DELETE FROM counters WHERE id = $1', [n % 8]);
      await source.query('COMMIT');
    }
    await source.query(`INSERT INTO accounts VALUES (1, 1, 'a@x'), (2, 1, 'b@x'), (3, 2, 'c@x')`);
    await source.query('INSERT INTO parents VALUES (1, 3)');
    await source.query('INSERT INTO children VALUES (10, 3, 1)');

    const applier = new ChangeApplier({
      source: address('s0-primary'),
      slot: 'capb_slot',
      publication: 'capb_pub',
      destinations: DESTINATIONS.map(address),
      tables: TABLES,
      route: routeByShardKey(TABLES, RANGES),
      backoff: { initialMs: 100, maxMs: 1_000 },
    });
    await applier.start();
    try {
      await applier.catchUp(30_000, { whileProgressing: { maxMs: 300_000 } });
      // With those rows on the destinations: two rows swap their unique emails, a child moves to
      // a new parent before its old parent goes (applied coalesced, both would violate), and
      // rows move to the other destination and back.
      await source.query('BEGIN');
      await source.query(`UPDATE accounts SET email = 'tmp' WHERE id = 1`);
      await source.query(`UPDATE accounts SET email = 'a@x' WHERE id = 2`);
      await source.query(`UPDATE accounts SET email = 'b@x' WHERE id = 1`);
      await source.query(`DELETE FROM accounts WHERE id = 3`);
      await source.query(`INSERT INTO accounts VALUES (4, 2, 'c@x')`);
      await source.query('INSERT INTO parents VALUES (2, 3)');
      await source.query('UPDATE children SET parent_id = 2 WHERE id = 10');
      await source.query('DELETE FROM parents WHERE id = 1');
      await source.query('COMMIT');
      await source.query('UPDATE counters SET user_id = user_id + 1, v = v + 10');
      await source.query('UPDATE counters SET user_id = user_id - 1');
      await applier.catchUp(30_000, { whileProgressing: { maxMs: 300_000 } });
      expect(applier.status).toBe('streaming');
    } finally {
      await applier.stop();
    }

    const targets = await Promise.all(DESTINATIONS.map((t) => openClient(address(t), 'test')));
    try {
      for (const t of TABLES) {
        const expected = await rowsOf(source, t.name);
        expect(expected.length, t.name).toBeGreaterThan(0);
        for (const [i, c] of targets.entries()) {
          const owned = expected.filter((r) => keyOwner(r.split('|')[0], 'int', RANGES) === i);
          expect(await rowsOf(c, t.name), `${t.name} on ${DESTINATIONS[i]}`).toEqual(owned);
        }
      }
    } finally {
      await Promise.all(targets.map((c) => c.end()));
      await source.end();
    }
  }, 300_000);
});
