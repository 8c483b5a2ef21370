// The demo's schema: one table per data type of DESIGN.md, each with an `id bigint` primary key
// (unique across shards) and a `user_id` shard key; every other column has a default, so
// `INSERT INTO posts (id, user_id) VALUES (...)` works. trending_topics is a reference table.

export interface DemoTable {
  name: string;
  dataType: string;
  columns: string;
  reference?: boolean;
}

export const DEMO_TABLES: DemoTable[] = [
  {
    name: 'users',
    dataType: 'user_account',
    columns:
      "name text NOT NULL DEFAULT 'anonymous', email text NOT NULL DEFAULT '', vip boolean NOT NULL DEFAULT false",
  },
  {
    name: 'payments',
    dataType: 'payment_info',
    columns:
      "amount numeric(12,2) NOT NULL DEFAULT 0, currency text NOT NULL DEFAULT 'EUR', status text NOT NULL DEFAULT 'pending'",
  },
  { name: 'balances', dataType: 'user_balance', columns: 'balance numeric(14,2) NOT NULL DEFAULT 0' },
  {
    name: 'posts',
    dataType: 'user_posts',
    columns: "title text NOT NULL DEFAULT '', body text NOT NULL DEFAULT ''",
  },
  {
    name: 'comments',
    dataType: 'user_comments',
    columns: "post_id bigint NOT NULL DEFAULT 0, body text NOT NULL DEFAULT ''",
  },
  { name: 'likes', dataType: 'user_likes', columns: 'post_id bigint NOT NULL DEFAULT 0' },
  {
    name: 'recommendations',
    dataType: 'user_recommendations',
    columns: 'item_id bigint NOT NULL DEFAULT 0, score double precision NOT NULL DEFAULT 0',
  },
  {
    name: 'trending_topics',
    dataType: 'trending_topics',
    columns: "topic text NOT NULL DEFAULT '', score double precision NOT NULL DEFAULT 0",
    reference: true,
  },
  {
    name: 'analytics_events',
    dataType: 'user_analytics',
    columns: "event text NOT NULL DEFAULT 'view', payload jsonb NOT NULL DEFAULT '{}'",
  },
  {
    name: 'sessions',
    dataType: 'session_data',
    columns:
      "token text NOT NULL DEFAULT md5(random()::text), expires_at timestamptz NOT NULL DEFAULT now() + interval '1 day'",
  },
  { name: 'temp_data', dataType: 'temporary_data', columns: "value text NOT NULL DEFAULT ''" },
];

/** DDL for one shard. Reference tables carry user_id too, unused for routing. */
export function demoSchemaSql(): string {
  return DEMO_TABLES.map(
    (t) =>
      `CREATE TABLE IF NOT EXISTS ${t.name} (id bigint PRIMARY KEY, user_id bigint NOT NULL DEFAULT 0, ${t.columns}, created_at timestamptz NOT NULL DEFAULT now());` +
      (t.reference ? '' : ` CREATE INDEX IF NOT EXISTS ${t.name}_user_id ON ${t.name} (user_id);`),
  ).join('\n');
}

export interface DemoRow {
  table: string;
  id: number;
  userId: number;
  extra: Record<string, string | number | boolean>;
}

/** Deterministic sample rows: `users` users, a few rows of each kind per user. */
export function demoRows(users = 100): DemoRow[] {
  const rows: DemoRow[] = [];
  let id = 1;
  for (let u = 1; u <= users; u++) {
    rows.push({
      table: 'users',
      id: u,
      userId: u,
      extra: { name: `user${u}`, email: `user${u}@example.com`, vip: u % 10 === 0 },
    });
    rows.push({ table: 'balances', id: u, userId: u, extra: { balance: (u * 37) % 1000 } });
    for (let k = 0; k < 2; k++) {
      rows.push({
        table: 'payments',
        id: id++,
        userId: u,
        extra: { amount: ((u * 13 + k * 7) % 500) + 0.5, status: k ? 'settled' : 'pending' },
      });
      rows.push({
        table: 'posts',
        id: id++,
        userId: u,
        extra: { title: `post ${k} of user ${u}`, body: 'hello' },
      });
      rows.push({ table: 'comments', id: id++, userId: u, extra: { post_id: id, body: 'nice' } });
      rows.push({ table: 'likes', id: id++, userId: u, extra: { post_id: (u * 7 + k) % 50 } });
      rows.push({
        table: 'recommendations',
        id: id++,
        userId: u,
        extra: { item_id: (u * 11 + k) % 97, score: ((u + k) % 10) / 10 },
      });
      rows.push({ table: 'analytics_events', id: id++, userId: u, extra: { event: k ? 'click' : 'view' } });
    }
    rows.push({ table: 'sessions', id: id++, userId: u, extra: {} });
    rows.push({ table: 'temp_data', id: id++, userId: u, extra: { value: `tmp${u}` } });
  }
  return rows;
}

export const DEMO_TOPICS = [
  'postgres',
  'sharding',
  'replication',
  'latency',
  'consistency',
  'proxies',
  'nodejs',
  'mariadb',
];
