// Creates the demo schema on every shard primary and loads the sample rows, each on the shard
// that owns its key (computed with the router's own sharding functions, so the demo data and the
// proxy always agree). Reference tables get the same rows everywhere.
import pg from 'pg';
import type { ShardgateConfig } from '../config/schema.js';
import { demoInsertBatches, demoRowsPerShard } from './demo-placement.js';
import { demoRoles, pgDemoRolesSql } from './demo-roles.js';
import { DEMO_TOPICS, type DemoRow, demoRows, demoSchemaSql } from './demo-schema.js';

function sqlLiteral(v: string | number | boolean): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `'${v.replace(/'/g, "''")}'`;
}

function insertSql(table: string, rows: DemoRow[]): string {
  if (rows.length === 0) return '';
  const columns = ['id', 'user_id', ...Object.keys(rows[0]!.extra)];
  const values = rows.map(
    (r) => `(${[r.id, r.userId, ...columns.slice(2).map((c) => r.extra[c]!)].map(sqlLiteral).join(', ')})`,
  );
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values.join(', ')} ON CONFLICT (id) DO NOTHING;`;
}

export interface DemoDataOptions {
  users: number;
}

export async function loadDemoData(
  config: ShardgateConfig,
  options: DemoDataOptions,
): Promise<{ rows: number }> {
  const rows = demoRows(options.users);
  const perShard = demoRowsPerShard(config, config.shards, rows);
  await Promise.all(
    config.shards.map((shard) =>
      withBackendClient(config, shard.primary, async (client) => {
        await client.query(demoSchemaSql());
        for (const [table, batch] of demoInsertBatches(perShard.get(shard.name) ?? []))
          await client.query(insertSql(table, batch));
        const topics = DEMO_TOPICS.map((t, i) => `(${i + 1}, 0, '${t}', ${(DEMO_TOPICS.length - i) * 10})`);
        await client.query(
          `INSERT INTO trending_topics (id, user_id, topic, score) VALUES ${topics.join(', ')} ON CONFLICT (id) DO NOTHING`,
        );
        const roles = demoRoles(config);
        if (roles.length > 0) await createRoles(client, pgDemoRolesSql(roles));
      }),
    ),
  );
  // Split targets serve the same users: their roles exist there before any table moves in.
  const roles = demoRoles(config);
  if (roles.length > 0) {
    await Promise.all(
      config.migration.spares.map((spare) =>
        withBackendClient(config, spare, (client) => createRoles(client, pgDemoRolesSql(roles))),
      ),
    );
  }
  return { rows: rows.length + DEMO_TOPICS.length * config.shards.length };
}

/** A client of the backend user on `server` (a shard's primary or a spare) while `work` runs. */
async function withBackendClient(
  config: ShardgateConfig,
  server: { host: string; port: number; database?: string },
  work: (client: pg.Client) => Promise<void>,
): Promise<void> {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: config.backend.user,
    password: config.backend.password || undefined,
    database: server.database ?? config.backend.database,
  });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Runs the (idempotent) role statements, again when a concurrent load into another database of the
 * same cluster changed the same role row at the same moment ("tuple concurrently updated", or the
 * unique index on role names): roles are shared by every database of a cluster.
 */
async function createRoles(client: pg.Client, sql: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query(sql);
      return;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const concurrent =
        e.code === '23505' ||
        e.code === '42710' ||
        /tuple concurrently (updated|deleted)/.test(e.message ?? '');
      if (!concurrent || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80 * attempt));
    }
  }
}
