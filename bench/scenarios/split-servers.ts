// The per-protocol part of `bench split`: which servers the launcher starts (PostgreSQL shards
// with streaming replicas, or MariaDB shards with GTID replicas, plus two spare primaries), the
// config shardgate runs on, the demo data and the unsharded audit_log on the default shard s0,
// the URL of the proxy's port for that protocol, and the proxy's topology of that side. The
// scenario, its writers, ledger and report are the same for both (split.ts, write-ledger.ts).
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ShardgateConfig } from '../../src/config/schema.js';
import type { KeyRange } from '../../src/domain/keyspace.js';
import { loadDemoData } from '../../src/local/demo-data.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import { startMariadbCluster } from '../../src/local/mariadb-cluster.js';
import { loadMysqlDemoData } from '../../src/local/mysql-demo-schema.js';
import { withSuperuser } from '../../src/local/pg-superuser.js';
import { startPostgresCluster } from '../../src/local/postgres-cluster.js';
import type { MigrationState } from '../../src/migration/state-store.js';
import type { ProxyHandle } from '../../src/proxy.js';
import type { TopologyView } from '../../src/router/inputs.js';
import { mysqlOnlyConfig } from '../lib/mysql-only-config.js';
import type { BenchProtocol, SqlSession } from '../lib/sql-session.js';

/** A shard of the proxy's topology as the scenario reads it. */
export interface SideShard {
  name: string;
  range: KeyRange;
  primary: { host: string; port: number };
}

export interface SplitServers {
  protocol: BenchProtocol;
  config: ShardgateConfig;
  /** Demo rows and audit_log rows loaded before the proxy starts. */
  loaded: { rows: number; audit: number };
  /** The proxy's port of this protocol, as the demo's `app` logs in. */
  url(proxy: ProxyHandle): string;
  /** The proxy's topology of this protocol's shards. */
  side(proxy: ProxyHandle): { shardList(): SideShard[]; view(): TopologyView };
  /** Inserts one audit_log row through a proxy session; its generated id. */
  insertAudit(session: SqlSession, note: string): Promise<string>;
  /**
   * The writers' pool connections on the targets by when they opened (PostgreSQL's
   * pg_stat_activity.backend_start); null where the server keeps no connection start (MariaDB).
   */
  poolConnectionsAfterSwitch(
    state: MigrationState,
    shards: readonly SideShard[],
  ): Promise<{ before: number; firstSecond: number; later: number } | null>;
  stop(): Promise<void>;
}

export interface SplitServersOptions {
  users: number;
  poolSize: number;
  rowsPerSecond: number;
  cutoverDeadlineMs: number;
}

const AUDIT_SEED_ROWS = 5000;

function migrationOverrides(
  o: SplitServersOptions,
  spares: ReadonlyArray<{ name: string; host: string; port: number }>,
) {
  return {
    stateDir: mkdtempSync(path.join(os.tmpdir(), 'shardgate-bench-split-')),
    rowsPerSecond: o.rowsPerSecond,
    cutoverDeadlineMs: o.cutoverDeadlineMs,
    fencedCutoverDeadlineMs: o.cutoverDeadlineMs,
    spares: spares.map((s) => ({ name: s.name, host: s.host, port: s.port })),
  };
}

export function startSplitServers(protocol: BenchProtocol, o: SplitServersOptions): Promise<SplitServers> {
  return protocol === 'mysql' ? startMysqlServers(o) : startPostgresServers(o);
}

async function startPostgresServers(o: SplitServersOptions): Promise<SplitServers> {
  const cluster = await startPostgresCluster({ shards: 2, replicasPerShard: 1, database: 'shardgate' });
  try {
    const spares = [await cluster.addSpare('spare1'), await cluster.addSpare('spare2')];
    const config = configForLocalShards(
      cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
      {
        database: 'shardgate',
        overrides: {
          listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
          pool: { size: o.poolSize },
          migration: migrationOverrides(o, spares),
        },
      },
    );
    const loaded = await loadDemoData(config, { users: o.users });
    const audit = await withSuperuser(
      { host: '127.0.0.1', port: cluster.shards[0]!.primary.port },
      async (c) => {
        await c.query('CREATE TABLE audit_log (id bigserial PRIMARY KEY, note text NOT NULL)');
        const r = await c.query(
          `INSERT INTO audit_log (note) SELECT 'seed ' || n FROM generate_series(1, ${AUDIT_SEED_ROWS}) n`,
        );
        // The writers log in as the demo's `app`, which reaches the servers as its own role.
        await c.query('GRANT SELECT, INSERT, UPDATE, DELETE ON audit_log TO app');
        await c.query('GRANT USAGE ON SEQUENCE audit_log_id_seq TO app');
        return r.rowCount ?? 0;
      },
    );
    return {
      protocol: 'postgres',
      config,
      loaded: { rows: loaded.rows, audit },
      url: (p) => `postgres://app:app@127.0.0.1:${p.postgres.port}/shardgate`,
      side: (p) => p.topology,
      async insertAudit(session, note) {
        const r = await session.query('INSERT INTO audit_log (note) VALUES (?) RETURNING id::text AS id', [
          note,
        ]);
        return String(r.rows[0]!.id);
      },
      poolConnectionsAfterSwitch: postgresPoolConnections,
      stop: () => cluster.stop(),
    };
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}

async function startMysqlServers(o: SplitServersOptions): Promise<SplitServers> {
  const cluster = await startMariadbCluster({ shards: 2, replicasPerShard: 1 });
  try {
    const spares = [await cluster.addSpare('spare1'), await cluster.addSpare('spare2')];
    const config = await mysqlOnlyConfig(cluster.shards, 'shardgate', {
      pool: { size: o.poolSize },
      migration: migrationOverrides(o, spares),
    });
    const loaded = await loadMysqlDemoData(config, { users: o.users, spares });
    const s0 = cluster.shards[0]!.primary.name;
    await cluster.query(
      s0,
      'CREATE TABLE audit_log (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64) NOT NULL)',
    );
    const seed = Array.from({ length: AUDIT_SEED_ROWS }, (_, i) => `('seed ${i + 1}')`);
    await cluster.query(s0, `INSERT INTO audit_log (note) VALUES ${seed.join(', ')}`);
    // The demo's `app` may use every table of the database (mysqlDemoRolesStatements): no grant here.
    for (const shard of cluster.shards)
      for (const r of shard.replicas) await cluster.waitForReplication(r.name);
    return {
      protocol: 'mysql',
      config,
      loaded: { rows: loaded.rows, audit: AUDIT_SEED_ROWS },
      url: (p) => `mysql://app:app@127.0.0.1:${p.mysql!.port}/shardgate`,
      side: (p) => p.mysql!.topology,
      async insertAudit(session, note) {
        const r = await session.query('INSERT INTO audit_log (note) VALUES (?)', [note]);
        if (r.insertId === null)
          throw new Error('the proxy answered an audit_log INSERT without an insert id');
        return String(r.insertId);
      },
      poolConnectionsAfterSwitch: async () => null,
      stop: () => cluster.stop(),
    };
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}

/**
 * The proxy's server connections (not the migration's, whose application_name is 'migration-...';
 * a warm connection carries its clients' application_name, not 'shardgate') of the
 * writers' own role (`app` reaches the servers as itself, not as the service identity) on the
 * primaries of the migration's targets, by when they were opened relative to the release of the
 * block: connections opened after it are connection setup some released or new write waited for
 * (the pool warm-up cause of the dip after the switch). Counts connections still open at the end
 * (the pool closes idle ones), so it bounds what the writers waited for from below.
 */
async function postgresPoolConnections(state: MigrationState, shards: readonly SideShard[]) {
  const cutover = state.cutovers.find((c) => c.outcome === 'switched');
  if (!cutover?.startedAt) return null;
  const released = (cutover.startedAt + cutover.blockMs) / 1000;
  const out = { before: 0, firstSecond: 0, later: 0 };
  for (const t of state.plan.targets) {
    const server = shards.find((s) => s.name === t.shard)?.primary;
    if (!server) continue;
    await withSuperuser(server, async (c) => {
      const r = await c.query<{ before: number; first: number; later: number }>(
        `SELECT count(*) FILTER (WHERE backend_start < to_timestamp($1))::int AS before,
                count(*) FILTER (WHERE backend_start >= to_timestamp($1) AND backend_start < to_timestamp($1 + 1))::int AS first,
                count(*) FILTER (WHERE backend_start >= to_timestamp($1 + 1))::int AS later
           FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND application_name NOT LIKE 'migration-%'
            AND usename <> current_user`,
        [released],
      );
      out.before += r.rows[0]!.before;
      out.firstSecond += r.rows[0]!.first;
      out.later += r.rows[0]!.later;
    });
  }
  return out;
}
