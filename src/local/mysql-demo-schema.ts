// The demo schema of demo-schema.ts in MySQL/MariaDB DDL, and its loader: the same tables, sample
// rows and routing (the router's own hash over the mysqlShards key ranges), so both protocols
// serve the same data layout. Every column but id and user_id has a default, as on PostgreSQL.
// The DDL runs on MariaDB 10.2+ and MySQL 8.0.13+ (expression defaults in parentheses, indexes
// inside CREATE TABLE, VARCHAR instead of TEXT with a default).

import mysql from 'mysql2/promise';
import type { ShardgateConfig } from '../config/schema.js';
import { demoInsertBatches, demoRowsPerShard } from './demo-placement.js';
import { demoRoles, mysqlDemoRolesStatements } from './demo-roles.js';
import { DEMO_TABLES, DEMO_TOPICS, type DemoRow, demoRows } from './demo-schema.js';

/** Columns per demo table besides id, user_id and created_at (PostgreSQL's, translated). */
const MYSQL_COLUMNS: Record<string, string> = {
  users:
    "name VARCHAR(255) NOT NULL DEFAULT 'anonymous', email VARCHAR(255) NOT NULL DEFAULT '', vip BOOLEAN NOT NULL DEFAULT FALSE",
  payments:
    "amount DECIMAL(12,2) NOT NULL DEFAULT 0, currency VARCHAR(8) NOT NULL DEFAULT 'EUR', status VARCHAR(32) NOT NULL DEFAULT 'pending'",
  balances: 'balance DECIMAL(14,2) NOT NULL DEFAULT 0',
  posts: "title VARCHAR(255) NOT NULL DEFAULT '', body VARCHAR(4000) NOT NULL DEFAULT ''",
  comments: "post_id BIGINT NOT NULL DEFAULT 0, body VARCHAR(4000) NOT NULL DEFAULT ''",
  likes: 'post_id BIGINT NOT NULL DEFAULT 0',
  recommendations: 'item_id BIGINT NOT NULL DEFAULT 0, score DOUBLE NOT NULL DEFAULT 0',
  trending_topics: "topic VARCHAR(255) NOT NULL DEFAULT '', score DOUBLE NOT NULL DEFAULT 0",
  analytics_events: "event VARCHAR(64) NOT NULL DEFAULT 'view', payload JSON NOT NULL DEFAULT ('{}')",
  sessions:
    'token VARCHAR(64) NOT NULL DEFAULT (MD5(RAND())), ' +
    'expires_at TIMESTAMP(6) NOT NULL DEFAULT (CURRENT_TIMESTAMP(6) + INTERVAL 1 DAY)',
  temp_data: "value VARCHAR(1000) NOT NULL DEFAULT ''",
};

/**
 * One CREATE TABLE per demo table, for one shard. TIMESTAMP(6) stores an instant, like
 * PostgreSQL's timestamptz. Throws if demo-schema.ts gained a table this file does not translate.
 */
export function mysqlDemoSchemaStatements(): string[] {
  return DEMO_TABLES.map((t) => {
    const columns = MYSQL_COLUMNS[t.name];
    if (!columns) throw new Error(`mysql-demo-schema.ts has no MySQL columns for demo table ${t.name}`);
    const index = t.reference ? '' : `, KEY ${t.name}_user_id (user_id)`;
    return (
      `CREATE TABLE IF NOT EXISTS ${t.name} (id BIGINT NOT NULL PRIMARY KEY, ` +
      `user_id BIGINT NOT NULL DEFAULT 0, ${columns}, ` +
      `created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)${index})`
    );
  });
}

type Value = string | number | boolean;

/** Multi-row insert; rows already present (same id) are left as they are, as ON CONFLICT DO NOTHING. */
function insert(table: string, rows: DemoRow[]): { sql: string; values: Value[][] } {
  const columns = ['id', 'user_id', ...Object.keys(rows[0]?.extra ?? {})];
  const values = rows.map((r) => [r.id, r.userId, ...columns.slice(2).map((c) => r.extra[c]!)]);
  return {
    sql: `INSERT INTO ${table} (${columns.join(', ')}) VALUES ? ON DUPLICATE KEY UPDATE id = id`,
    values,
  };
}

/**
 * A connection of the backend user to `server` (a shard's primary or a spare), in `database` or in
 * none, while `work` runs.
 */
async function withBackendConnection(
  config: ShardgateConfig,
  server: { host: string; port: number },
  database: string | undefined,
  work: (c: mysql.Connection) => Promise<void>,
): Promise<void> {
  const c = await mysql.createConnection({
    host: server.host,
    port: server.port,
    user: config.backend.mysqlUser,
    password: config.backend.mysqlPassword,
    database,
  });
  c.on('error', () => undefined);
  try {
    await work(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export interface MysqlDemoDataOptions {
  users: number;
  /**
   * MariaDB spare primaries (a split's or merge's targets): the demo's users are created there too,
   * so they serve the same users once tables move in (as loadDemoData does on PostgreSQL spares).
   */
  spares?: ReadonlyArray<{ host: string; port: number }>;
}

/** Creates the demo schema on every primary of config.mysqlShards and loads the sample rows. */
export async function loadMysqlDemoData(
  config: ShardgateConfig,
  options: MysqlDemoDataOptions,
): Promise<{ rows: number; perShard: Record<string, number> }> {
  if (config.mysqlShards.length === 0)
    throw new Error('the config has no mysqlShards to load demo data into');
  const rows = demoRows(options.users);
  const perShard = demoRowsPerShard(config, config.mysqlShards, rows);
  await Promise.all(
    config.mysqlShards.map((shard) => {
      const database = shard.primary.database ?? config.backend.mysqlDatabase;
      return withBackendConnection(config, shard.primary, database, async (c) => {
        for (const ddl of mysqlDemoSchemaStatements()) await c.query(ddl);
        for (const sql of mysqlDemoRolesStatements(demoRoles(config), database)) await c.query(sql);
        for (const [table, batch] of demoInsertBatches(perShard.get(shard.name) ?? [])) {
          const { sql, values } = insert(table, batch);
          await c.query(sql, [values]);
        }
        await c.query(
          'INSERT INTO trending_topics (id, user_id, topic, score) VALUES ? ON DUPLICATE KEY UPDATE id = id',
          [DEMO_TOPICS.map((t, i) => [i + 1, 0, t, (DEMO_TOPICS.length - i) * 10])],
        );
      });
    }),
  );
  const database = config.backend.mysqlDatabase;
  await Promise.all(
    (options.spares ?? []).map((spare) =>
      withBackendConnection(config, spare, undefined, async (c) => {
        for (const sql of mysqlDemoRolesStatements(demoRoles(config), database)) await c.query(sql);
      }),
    ),
  );
  return {
    rows: rows.length + DEMO_TOPICS.length * config.mysqlShards.length,
    perShard: Object.fromEntries([...perShard].map(([name, list]) => [name, list.length])),
  };
}
