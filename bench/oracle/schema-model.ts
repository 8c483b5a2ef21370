// The demo schema as the statement generator sees it: per table its columns with a kind (what
// literals and functions fit) and sample values that occur in the data. Columns whose values
// differ between the oracle and the shards by construction (created_at = load time, sessions'
// random token) are left out.

export type ColumnKind = 'int' | 'num' | 'float' | 'text' | 'bool';

export interface ModelColumn {
  name: string;
  kind: ColumnKind;
  /** Values that occur in the data (text columns), for equality and LIKE predicates. */
  samples?: string[];
}

export interface ModelTable {
  name: string;
  /** Sharded by user_id (false: a reference table, the same rows on every shard). */
  sharded: boolean;
  columns: ModelColumn[];
}

const key: ModelColumn[] = [
  { name: 'id', kind: 'int' },
  { name: 'user_id', kind: 'int' },
];

export const MODEL_TABLES: ModelTable[] = [
  {
    name: 'users',
    sharded: true,
    columns: [
      ...key,
      { name: 'name', kind: 'text', samples: ['user1', 'user7', 'user10', 'user23', 'anonymous'] },
      { name: 'email', kind: 'text', samples: ['user3@example.com', 'user12@example.com', ''] },
      { name: 'vip', kind: 'bool' },
    ],
  },
  {
    name: 'payments',
    sharded: true,
    columns: [
      ...key,
      { name: 'amount', kind: 'num' },
      { name: 'currency', kind: 'text', samples: ['EUR', 'USD'] },
      { name: 'status', kind: 'text', samples: ['pending', 'settled', 'failed'] },
    ],
  },
  { name: 'balances', sharded: true, columns: [...key, { name: 'balance', kind: 'num' }] },
  {
    name: 'posts',
    sharded: true,
    columns: [
      ...key,
      { name: 'title', kind: 'text', samples: ['post 0 of user 1', 'post 1 of user 12', 'hello'] },
      { name: 'body', kind: 'text', samples: ['hello', 'world', ''] },
    ],
  },
  {
    name: 'comments',
    sharded: true,
    columns: [
      ...key,
      { name: 'post_id', kind: 'int' },
      { name: 'body', kind: 'text', samples: ['nice', 'meh'] },
    ],
  },
  { name: 'likes', sharded: true, columns: [...key, { name: 'post_id', kind: 'int' }] },
  {
    name: 'recommendations',
    sharded: true,
    columns: [...key, { name: 'item_id', kind: 'int' }, { name: 'score', kind: 'float' }],
  },
  {
    name: 'analytics_events',
    sharded: true,
    columns: [...key, { name: 'event', kind: 'text', samples: ['view', 'click', 'share'] }],
  },
  {
    name: 'trending_topics',
    sharded: false,
    columns: [
      ...key,
      { name: 'topic', kind: 'text', samples: ['postgres', 'sharding', 'latency', 'nodejs'] },
      { name: 'score', kind: 'float' },
    ],
  },
];
