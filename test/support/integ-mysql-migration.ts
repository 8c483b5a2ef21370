// The set-up the MySQL migration integration tests share: a two-shard MariaDB topology with the
// demo schema, spares for the migration's targets, unsharded tables on the MySQL default shard
// (s0), rows in likes for a throttled copy to chew on, and the configuration a `shardgate start`
// process from dist/ runs with (admin token, its own state directory, the spares).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import type { MariadbServer } from '../../src/local/mariadb-cluster.js';
import type { MigrationState } from '../../src/migration/state-store.js';
import { MysqlMigrationDriver, writeLoop } from './mysql-migration-driver.js';
import { type MysqlProxyFixture, startMysqlProxyFixture } from './mysql-proxy-fixture.js';
import { startShardgateProcess } from './start-process.js';
import { waitFor } from './wait-for.js';

/** The demo users the tests write likes for (ids 1..40). */
export const MIGRATION_USERS = Array.from({ length: 40 }, (_, i) => i + 1);

export interface MysqlMigrationSetup {
  fx: MysqlProxyFixture;
  spares: MariadbServer[];
  config: ShardgateConfig;
  d: MysqlMigrationDriver;
  primaryOf(shard: string): string;
}

export interface MysqlMigrationOptions {
  token: string;
  /** Prefix of the state directory (one per test file, so a failed run is easy to find). */
  stateDirPrefix: string;
  spares?: string[];
  /** Unsharded tables created on s0 with the rows (1,'a'), (2,'b'), (3,'c'). */
  unsharded?: string[];
  /** A slow copy (1,500 rows/s in batches of 150), for tests that act while it runs. */
  throttled?: boolean;
  /** Start the `shardgate start` process (d.proc) at the end of the set-up. */
  startProcess?: boolean;
}

/**
 * The set-up of a test file: started in beforeAll (then `prepare`, for the file's own rows),
 * stopped in afterAll with the proxy process. The returned object is filled in by beforeAll.
 */
export function mysqlMigrationSuite(
  o: MysqlMigrationOptions,
  prepare?: (s: MysqlMigrationSetup) => Promise<void>,
): MysqlMigrationSetup {
  const s = {} as MysqlMigrationSetup;
  beforeAll(async () => {
    Object.assign(s, await startMysqlMigration(o));
    await prepare?.(s);
    if (o.startProcess) s.d.proc = await startShardgateProcess(s.config, 90_000);
  }, 240_000);
  afterAll(async () => {
    await s.d?.proc?.stop();
    await s.fx?.stop();
  });
  return s;
}

/**
 * The set-up of the MySQL merge and table-move tests: spare1, the unsharded site_notes on s0 (the
 * MySQL default shard, no `home`), a throttled copy, and 6,000 likes rows on each shard (ids from
 * 10,000,000 on s0 and 20,000,000 on s1), so that the copy of a second source still runs at a kill.
 */
export function seededOneSpareSuite(token: string, stateDirPrefix: string): MysqlMigrationSetup {
  return mysqlMigrationSuite(
    { token, stateDirPrefix, spares: ['spare1'], unsharded: ['site_notes'], throttled: true },
    async (s) => {
      await seedLikes(s, 's0', 10_000_000, 3);
      await seedLikes(s, 's1', 20_000_000, 3);
    },
  );
}

export async function startMysqlMigration(o: MysqlMigrationOptions): Promise<MysqlMigrationSetup> {
  const fx = await startMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: MIGRATION_USERS.length });
  const spares: MariadbServer[] = [];
  for (const name of o.spares ?? []) spares.push(await fx.cluster.addSpare(name));
  const primaryOf = (shard: string) => fx.cluster.shards.find((s) => s.name === shard)!.primary.name;
  for (const table of o.unsharded ?? []) {
    await fx.cluster.query(primaryOf('s0'), `CREATE TABLE ${table} (id INT PRIMARY KEY, body VARCHAR(20))`);
    await fx.cluster.query(primaryOf('s0'), `INSERT INTO ${table} VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
  }
  const config: ShardgateConfig = {
    ...fx.config,
    admin: { ...fx.config.admin, token: o.token },
    migration: {
      ...fx.config.migration,
      stateDir: join(mkdtempSync(join(tmpdir(), o.stateDirPrefix)), 'migrations'),
      ...(o.throttled ? { rowsPerSecond: 1_500, batchRows: 150 } : {}),
      cutoverDeadlineMs: 15_000,
      inflightGraceMs: 200,
      ...(spares.length > 0
        ? { spares: spares.map((s) => ({ name: s.name, host: s.host, port: s.port, replicas: [] })) }
        : {}),
    },
  };
  return { fx, spares, config, d: new MysqlMigrationDriver(o.token, fx.cluster), primaryOf };
}

/**
 * `chunks` x 2,000 likes rows with ids from `base` on a shard's primary, for its own users, so that
 * a throttled copy is still running when a test acts on it.
 */
export async function seedLikes(s: MysqlMigrationSetup, shard: string, base: number, chunks: number) {
  const own = MIGRATION_USERS.filter((u) => s.fx.owner(u) === shard);
  for (let chunk = 0; chunk < chunks; chunk++) {
    const values = Array.from({ length: 2000 }, (_, i) => {
      const id = base + chunk * 2000 + i;
      return `(${id}, ${own[id % own.length]}, 1)`;
    });
    await s.fx.cluster.query(
      s.primaryOf(shard),
      `INSERT INTO likes (id, user_id, post_id) VALUES ${values.join(', ')}`,
    );
  }
}

/** A writer of likes rows through the proxy, spread over MIGRATION_USERS (so over both shards): id's user is MIGRATION_USERS[id % 40]. */
export function likesWriter(s: MysqlMigrationSetup, base: number) {
  return s.d.startWriter(base, (c, id) =>
    c.query({
      sql: 'INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)',
      values: [id, MIGRATION_USERS[id % MIGRATION_USERS.length]],
      // Bounded, so writer.stop() cannot wait for ever on an INSERT the proxy never answers.
      timeout: 60_000,
    }),
  );
}

/** A writer of rows (id, 'n<id>') into one of the unsharded tables, through the proxy. */
export function unshardedWriter(s: MysqlMigrationSetup, table: string, base: number) {
  return s.d.startWriter(base, (c, id) =>
    c.query(`INSERT INTO ${table} (id, body) VALUES (?, ?)`, [id, `n${id}`]),
  );
}

type Writer = ReturnType<MysqlMigrationDriver['startWriter']>;

export async function stopWriters(...ws: Writer[]): Promise<void> {
  await Promise.all(ws.map((w) => w.stop()));
}

/** The server errors any of the writers met (none may occur: see startWriter). */
export const writeErrors = (...ws: Writer[]): string[] => ws.flatMap((w) => w.errors);

const DAY_MS = 24 * 3_600_000;

/**
 * The in-process proxy (its migration manager started with the admin server) over two MariaDB
 * shards with a replica each, and `spares` with a GTID replica each, listed with their replicas in
 * migration.spares. A replica's lag never takes it out of rotation here: only a switch's fence and
 * its replay of the switch position decide whether it serves. Returns the config with the spares.
 */
export async function startReplicatedSpares(
  stateDirPrefix: string,
  spares: string[],
): Promise<{ fx: MysqlProxyFixture; config: ShardgateConfig }> {
  const fx = await startMysqlProxyFixture({
    shards: 2,
    replicas: 1,
    demoUsers: MIGRATION_USERS.length,
    admin: true,
    overrides: {
      migration: {
        stateDir: join(mkdtempSync(join(tmpdir(), stateDirPrefix)), 'migrations'),
        rowsPerSecond: 50_000,
        cutoverDeadlineMs: 15_000,
        inflightGraceMs: 200,
      },
      routing: { lagPollIntervalMs: 20, replicaHardLagLimitMs: DAY_MS, defaultMaxLagMs: DAY_MS },
    },
  });
  for (const name of spares) await fx.cluster.addSpare(name, 1);
  const base = fx.proxy.topology.currentConfig;
  const config: ShardgateConfig = {
    ...base,
    migration: {
      ...base.migration,
      spares: fx.cluster.spares.map((s) => ({
        name: s.name,
        host: s.host,
        port: s.port,
        replicas: (fx.cluster.spareReplicas.get(s.name) ?? []).map((r) => ({
          name: r.name,
          host: r.host,
          port: r.port,
        })),
      })),
    },
  };
  fx.proxy.topology.rebuild(config);
  return { fx, config };
}

/** The in-process migration `id` once it reached `phase` (failing on an error on the way). */
export async function inProcessPhase(
  fx: MysqlProxyFixture,
  id: string,
  phase: string,
): Promise<MigrationState> {
  let last: MigrationState | null = null;
  await waitFor(
    `migration ${id} to reach ${phase}`,
    () => {
      last = fx.proxy.migrations!.get(id);
      if (last.error) throw new Error(`migration failed: ${last.error}`);
      return last.phase === phase;
    },
    240_000,
    100,
  );
  return last as unknown as MigrationState;
}

/** A like acknowledged by the proxy: its id, its user and when its INSERT returned. */
export interface LikeAck {
  id: number;
  user: number;
  at: number;
}

/**
 * `loops` writers inserting likes through `connect` (one id sequence from `base`, user `userOf(id)`),
 * 5 ms apart; every error but the cutover's 1213 is kept.
 */
export function likeStream(
  connect: () => Promise<mysql.Connection>,
  base: number,
  userOf: (id: number) => number,
  loops = 1,
) {
  let next = base;
  return writeLoop<LikeAck>({
    connect,
    write: async (c) => {
      const id = next++;
      const user = userOf(id);
      await c.query({
        sql: 'INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)',
        values: [id, user],
        timeout: 60_000,
      });
      return { id, user, at: Date.now() };
    },
    retryMs: 0,
    paceMs: 5,
    loops,
  });
}
