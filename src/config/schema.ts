// The configuration schema. Every key has a default where a sensible one exists, so the smallest
// useful file names only users and shards. Validation errors name the key path (see load.ts).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { BACKEND_TLS_MODES } from '../backend/backend-tls.js';

export const CONSISTENCY_LEVELS = ['weak', 'eventual', 'bounded', 'read_your_writes', 'strong'] as const;
/** Ordered from weakest to strongest: "one step stronger" is index + 1. */
export type ConsistencyLevel = (typeof CONSISTENCY_LEVELS)[number];
export const consistencyLevel = z.enum(CONSISTENCY_LEVELS);

const hostPort = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535),
});

/**
 * A secret in the config: the value itself, `{ env: NAME }` (an environment variable) or
 * `{ file: path }` (a file's content without its final newline; a relative path is from the
 * working directory). Resolved when the config is loaded; a missing variable or file is an error.
 */
export const secretString = z
  .union([
    z.string(),
    z.strictObject({ env: z.string().min(1) }),
    z.strictObject({ file: z.string().min(1) }),
  ])
  .transform((v, ctx) => {
    if (typeof v === 'string') return v;
    if ('env' in v) {
      const value = process.env[v.env];
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `environment variable ${v.env} is not set` });
        return z.NEVER;
      }
      return value;
    }
    try {
      return readFileSync(v.file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `cannot read secret file ${v.file}: ${(err as Error).message}`,
      });
      return z.NEVER;
    }
  });

/**
 * TLS from shardgate to backend servers, libpq's modes: disable, require (encrypted, certificate
 * unchecked), verify-ca (signed by `ca`), verify-full (also names the server: `serverName`, default
 * the server's host). A server that refuses TLS is refused under every mode but disable.
 */
export const backendTlsSchema = z.strictObject({
  mode: z.enum(BACKEND_TLS_MODES).optional(),
  /** PEM file of the CA that signs the servers' certificates (verify-ca, verify-full). */
  ca: z.string().min(1).optional(),
  serverName: z.string().min(1).optional(),
});

export const serverSchema = z.object({
  /** Unique server name, e.g. "s0-primary"; defaults to "<shard>-primary" / "<shard>-replica<N>". */
  name: z.string().min(1).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(1).max(65535),
  /** Database name on this server; defaults to backend.database. */
  database: z.string().min(1).optional(),
  /** Where host metrics for this server come from: "local" (this machine), a node_exporter URL, or none. */
  hostMetrics: z.union([z.literal('local'), z.literal('none'), z.string().url()]).optional(),
  /** The server's data directory when it is on this machine: disk use with hostMetrics "local". */
  dataDir: z.string().min(1).optional(),
  /** TLS to this server, over backend.tls (PostgreSQL) or backend.mysqlTls (MySQL) key by key. */
  tls: backendTlsSchema.optional(),
});
export type ServerConfig = z.infer<typeof serverSchema>;

/**
 * A Vitess-style key range: "-80" is [0, 0x80..), "80-" is [0x80.., 2^64), "40-80" is
 * [0x40.., 0x80..), "-" is the whole keyspace. Hex digits are the high bytes of the 64-bit id.
 */
export const keyRangeString = z
  .string()
  .regex(/^([0-9a-fA-F]{0,16})-([0-9a-fA-F]{0,16})$/, 'a key range looks like "-80", "40-80" or "80-"');

export const shardSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'shard names use letters, digits, _ . -'),
  keyRange: keyRangeString.default('-'),
  primary: serverSchema,
  replicas: z.array(serverSchema).default([]),
  /** An operator rule: refuse writes on this shard (reads continue). */
  readOnly: z.boolean().default(false),
  /** Protocol spoken by this shard's servers. */
  protocol: z.enum(['postgres', 'mysql']).default('postgres'),
  /** Server connections per server of this shard (per worker); overrides pool.size. */
  poolSize: z.number().int().min(1).max(10_000).optional(),
});
export type ShardConfig = z.infer<typeof shardSchema>;

/** A user's own role on the servers: its name and, when the user's own secret cannot log in, its password. */
export const backendRoleSchema = z.strictObject({
  /** Role (PostgreSQL) and user (MySQL) on the servers; default: the client's user name. */
  user: z.string().min(1).optional(),
  /** Its password: clear text (both protocols) or a PostgreSQL "md5..." hash; default: the user's own secret. */
  password: secretString.optional(),
});
export type BackendRoleConfig = z.infer<typeof backendRoleSchema>;

export const userSchema = z.object({
  name: z.string().min(1),
  /** Clear-text password, or a SCRAM verifier "SCRAM-SHA-256$..." or md5 hash "md5..." (or { env } / { file }). */
  password: secretString.default(''),
  auth: z.enum(['scram-sha-256', 'md5', 'trust']).default('scram-sha-256'),
  /** MySQL front end: mysql_native_password or caching_sha2_password. */
  mysqlAuth: z.enum(['mysql_native_password', 'caching_sha2_password']).default('caching_sha2_password'),
  /** Databases this user may connect to (empty: any served database). */
  databases: z.array(z.string()).default([]),
  /** May use the routing overrides shard= and role=replica (hint, SET shardgate.*, startup option). */
  routingOverrides: z.boolean().default(false),
  /** Server connections this user's sessions may hold at once (overrides pool.maxServerConnectionsPerUser). */
  maxServerConnections: z.number().int().min(0).optional(),
  /**
   * Who this user is on the servers (both protocols; see src/backend/identity.ts). Absent: its own
   * role of the same name, logging in with the user's own secret. `service`: the shared
   * backend.user / backend.mysqlUser identity, only when said so here.
   */
  backend: z.union([z.literal('service'), backendRoleSchema]).optional(),
});
export type UserConfig = z.infer<typeof userSchema>;

/** A client-visible database name and the backend database behind it. */
export const databaseMappingSchema = z.strictObject({
  name: z.string().min(1),
  /** Backend database name on every server; default: each server's own database. */
  database: z.string().min(1).optional(),
  /** Backend database per shard name, over `database`. */
  shards: z.record(z.string(), z.string().min(1)).default({}),
});
export type DatabaseMapping = z.infer<typeof databaseMappingSchema>;

export const poolSchema = z.object({
  mode: z.enum(['transaction', 'session']).default('transaction'),
  /** Maximum server connections per backend server (per worker process). */
  size: z.number().int().min(1).max(10_000).default(20),
  minIdle: z.number().int().min(0).default(0),
  /** How long a client may wait for a free server connection before an error. */
  checkoutTimeoutMs: z.number().int().min(1).default(5_000),
  idleTimeoutMs: z.number().int().min(0).default(60_000),
  maxLifetimeMs: z.number().int().min(0).default(3_600_000),
  connectTimeoutMs: z.number().int().min(1).default(5_000),
  connectRetries: z.number().int().min(0).default(3),
  connectBackoffMs: z.number().int().min(1).default(100),
  /** Run on a connection idle longer than validateAfterMs before handing it out. */
  validationQuery: z.string().default('SELECT 1'),
  validateAfterMs: z.number().int().min(0).default(30_000),
  /** Statement reset on return to the pool in transaction mode when the client changed state. */
  resetQuery: z.string().default('DISCARD ALL'),
  /** Prepared statements kept per server connection (PgBouncer's max_prepared_statements). */
  maxPreparedStatements: z.number().int().min(0).default(200),
  /**
   * Server connections one user's sessions may hold at once, over every server of a protocol
   * (PostgreSQL and MySQL counted apart; PgBouncer's max_user_connections: a session over it
   * waits up to checkoutTimeoutMs); 0: no limit. users[].maxServerConnections overrides it per user.
   */
  maxServerConnectionsPerUser: z.number().int().min(0).default(0),
  /** Close a client (either protocol) idle inside a transaction this long (PgBouncer's idle_transaction_timeout); 0: never. */
  idleTransactionTimeoutMs: z.number().int().min(0).default(0),
  /**
   * PostgreSQL transaction pooling: autocommit units (a Sync-terminated extended batch or a simple
   * Query) of plain SELECT/INSERT/UPDATE/DELETE from clients with the same settings are written
   * back to back on one server connection (pipelined, up to `depth` in flight), replies handed
   * back in order. Anything that may open a transaction or change session state waits for a
   * connection of its own. A unit joins a lane (and a connection becomes one) only when the pool
   * is at its size with no idle connection: below that nothing changes. On by default (pgbench,
   * same build on and off: 1.1-1.5x TPS at 64 and 256 clients, no change at 16; see README, Known
   * limits, for the wait it can add behind another client's slow statement).
   */
  multiplex: z
    .object({
      enabled: z.boolean().default(true),
      /** Units in flight on one server connection at once (1 turns pipelining off). */
      depth: z.number().int().min(1).max(64).default(8),
    })
    .default({ enabled: true, depth: 8 }),
});
export type PoolConfig = z.infer<typeof poolSchema>;

export const dataTypeSchema = z.object({
  level: consistencyLevel,
  /** No session context may weaken reads below this level. */
  floor: consistencyLevel.optional(),
  /** For `bounded`: the staleness bound. */
  maxLagMs: z.number().int().min(0).optional(),
  /** Result-cache TTL for reads at `eventual` and `weak` (0: no caching). */
  cacheTtlMs: z.number().int().min(0).default(0),
  /**
   * write-through: every write shardgate routes to one of the tables drops their cached results
   * at once (single worker process only); write-around: results live their TTL, writes or not.
   */
  cacheStrategy: z.enum(['write-through', 'write-around']).default('write-through'),
  /**
   * A transaction that touches this data type and spans shards: two_phase commits it with
   * two-phase commit; refuse keeps such a transaction on one shard (CROSS_SHARD_REFUSED);
   * compensate commits each shard on its own and undoes committed shards with `compensations`
   * when another fails (docs/transactions.md). The strictest choice of the data types a
   * transaction touches wins (refuse > two_phase > compensate); a session may only be stricter.
   * transactions.crossShard: refuse refuses for every data type.
   */
  crossShard: z.enum(['refuse', 'two_phase', 'compensate']).default('two_phase'),
  /**
   * crossShard: compensate only: per table, per statement kind, the statement that undoes a
   * committed write, `:column` standing for the original statement's value of that column
   * (`DELETE FROM transfers WHERE id = :id`; an UPDATE's new values as `:new_<column>`).
   */
  compensations: z
    .record(
      z.string().min(1),
      z.strictObject({
        insert: z.string().min(1).optional(),
        update: z.string().min(1).optional(),
        delete: z.string().min(1).optional(),
      }),
    )
    .optional(),
  tables: z.array(z.string().min(1)).min(1),
});
export type DataTypeConfig = z.infer<typeof dataTypeSchema>;

export const tableSchema = z.object({
  /** Column whose value decides the shard; absent with reference=false: unsharded (default shard). */
  shardKey: z.string().min(1).optional(),
  /** hash: keyspace id = hashint8extended/hashtextextended(value, 0); range/list: raw value maps. */
  method: z.enum(['hash', 'range', 'list']).default('hash'),
  /** For method=range: [{ shard, from, to }] with from inclusive, to exclusive (numbers or strings). */
  ranges: z
    .array(
      z.object({
        shard: z.string(),
        from: z.union([z.number(), z.string()]).nullable().default(null),
        to: z.union([z.number(), z.string()]).nullable().default(null),
      }),
    )
    .default([]),
  /** For method=list: { shard: [values] }. */
  lists: z.record(z.string(), z.array(z.union([z.number(), z.string()]))).default({}),
  /** Same rows on every shard: reads go to one shard, writes to all. */
  reference: z.boolean().default(false),
  /** For an unsharded table (no shardKey): the shard it lives on (default: routing.defaultShard). */
  home: z.string().min(1).optional(),
  /** Allow UPDATE/DELETE without a shard-key condition to run on every shard. */
  scatterWrites: z.boolean().default(false),
  /** Type of the shard key, for hashing: int (int2/4/8) or text. */
  keyType: z.enum(['int', 'text']).default('int'),
  /** Column that shardgate fills with an id unique across shards when an INSERT (outside a
   *  transaction) omits it; the id is returned by RETURNING like any column value. */
  idColumn: z.string().min(1).optional(),
  /** How idColumn values are made: snowflake = 64-bit (41 bits of ms since 2024-01-01, 10 bits
   *  of routing.instanceId, 12 bits of sequence), increasing per proxy instance. */
  idStrategy: z.enum(['snowflake']).default('snowflake'),
});
export type TableConfig = z.infer<typeof tableSchema>;

/** How a session context moves a level: from -> to; a level not listed stays as it is. */
export const levelMapping = z.partialRecord(consistencyLevel, consistencyLevel);
export type LevelMapping = z.infer<typeof levelMapping>;

/** The seed's VIP mapping: eventual -> read_your_writes, read_your_writes -> strong. */
export const SEED_VIP_LEVELS: LevelMapping = { eventual: 'read_your_writes', read_your_writes: 'strong' };
/** The seed's battery-saving mapping: strong -> read_your_writes -> eventual; eventual stays. */
export const SEED_BATTERY_SAVING_LEVELS: LevelMapping = {
  strong: 'read_your_writes',
  read_your_writes: 'eventual',
};

export const routingSchema = z.object({
  /** Shard that holds unsharded tables (Vitess's unsharded keyspace). Defaults to the first shard. */
  defaultShard: z.string().optional(),
  /** This proxy's number (0-1023) inside generated ids (tables.*.idColumn): give every proxy
   *  instance in front of the same shards its own. */
  instanceId: z.number().int().min(0).max(1023).default(0),
  /** Level for tables in no data type. */
  defaultLevel: consistencyLevel.default('strong'),
  /** Level a VIP session reads at, per data-type level (floors still apply). Default: the seed's. */
  vipLevels: levelMapping.default(SEED_VIP_LEVELS),
  /** Level a battery-saving session reads at, per data-type level (floors still apply). */
  batterySavingLevels: levelMapping.default(SEED_BATTERY_SAVING_LEVELS),
  /** Bound for `bounded` when the data type gives none. */
  defaultMaxLagMs: z.number().int().min(0).default(1_000),
  /** read_your_writes: how long to wait for a replica to replay the session's write. */
  readYourWritesWaitMs: z.number().int().min(0).default(50),
  /** A replica lagging more than this (or not answering) leaves rotation until it recovers. */
  replicaHardLagLimitMs: z.number().int().min(1).default(30_000),
  /** How often the lag monitor polls each server. */
  lagPollIntervalMs: z.number().int().min(1).default(100),
  /**
   * A server whose probe gets no answer this long is shunned, and statements waiting on it that
   * heard nothing from it for as long fail with a retryable error (a hung host: SIGSTOP, a dead link).
   */
  probeTimeoutMs: z.number().int().min(1).default(2_000),
  /** A shunned server (it failed a connection or died mid-query) returns after this many good probes in a row. */
  shunRecoveryProbes: z.number().int().min(1).default(3),
  /** Probes of a shunned server that keep failing back off from lagPollIntervalMs up to this. */
  shunMaxBackoffMs: z.number().int().min(1).default(2_000),
  /** A read outside a transaction whose server died or refused it, before any row reached the client, is re-planned and run elsewhere up to this many times. */
  readRetriesOnServerLoss: z.number().int().min(0).default(2),
  /**
   * A write outside a transaction whose shard's primary cannot be reached waits up to this long
   * for a serving primary (the old one back, or a promoted replica) and runs then; 0: fail at once.
   */
  holdWritesOnPrimaryLossMs: z.number().int().min(0).default(0),
  /** Functions whose use makes a SELECT a write (goes to the primary). */
  writeFunctions: z
    .array(z.string())
    .default([
      'nextval',
      'setval',
      'pg_advisory_lock',
      'pg_advisory_xact_lock',
      'lo_create',
      'lo_unlink',
      'txid_current',
      'pg_current_xact_id',
      'pg_notify',
      'set_config',
    ]),
  /** Rows a multi-shard merge may hold in memory before failing. */
  maxMergeRows: z.number().int().min(1).default(1_000_000),
  /**
   * Bytes of shard rows a multi-shard merge may hold in memory (all shards together, cells plus
   * bookkeeping); past it the statement fails with 53200. Sorting, grouping and DISTINCT work on
   * what is held, so a merge's working memory stays within a small multiple of this.
   */
  maxMergeBytes: z
    .number()
    .int()
    .min(1024)
    .default(128 * 1024 * 1024),
  /**
   * Bytes of one table's rows a cross-shard join (a join or IN subquery not on the shard keys)
   * may gather at the proxy to send to the other table's shards; past it the statement is
   * refused (JOIN_ROWS_LIMIT, 0A000) with how to proceed.
   */
  maxJoinBytes: z
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024),
  /** Refuse cross-shard writes that lack a key (default) or allow them per table. */
  parseCacheSize: z.number().int().min(16).default(10_000),
  /** Bytes the analysis cache may hold (fingerprints plus facts, estimated), besides its entry count. */
  parseCacheBytes: z
    .number()
    .int()
    .min(64 * 1024)
    .default(32 * 1024 * 1024),
  /** Bytes the routing decision cache may hold (per protocol; 0 turns it off); entries as parseCacheSize. */
  decisionCacheBytes: z
    .number()
    .int()
    .min(0)
    .default(8 * 1024 * 1024),
  /** Routing on or off: off sends everything to the default shard's primary (for benchmarks). */
  enabled: z.boolean().default(true),
});
export type RoutingConfig = z.infer<typeof routingSchema>;

export const alertRuleSchema = z.object({
  name: z.string(),
  metric: z.enum([
    'cpu_percent',
    'memory_percent',
    'replication_lag_seconds',
    'hotspot_score',
    'latency_p99_seconds',
    'pool_exhaustion_rate',
    'disk_percent',
    'server_down',
    'servers_shunned',
    'twopc_in_doubt_seconds',
  ]),
  warning: z.number().optional(),
  critical: z.number().optional(),
  /** Comparison for the warning threshold: ">" or ">=" (critical always uses ">="). */
  warningOp: z.enum(['>', '>=']).default('>'),
  recommendation: z.string().optional(),
  /** How long the condition must hold before firing. */
  forMs: z.number().int().min(0).default(0),
});
export type AlertRuleConfig = z.infer<typeof alertRuleSchema>;

export const DEFAULT_ALERT_RULES: AlertRuleConfig[] = [
  { name: 'HighCpu', metric: 'cpu_percent', warning: 80, critical: 90, warningOp: '>', forMs: 0 },
  { name: 'HighMemory', metric: 'memory_percent', warning: 85, critical: 95, warningOp: '>', forMs: 0 },
  {
    name: 'ReplicationLag',
    metric: 'replication_lag_seconds',
    warning: 5,
    critical: 30,
    warningOp: '>',
    forMs: 0,
  },
  {
    name: 'HotShard',
    metric: 'hotspot_score',
    warning: 70,
    warningOp: '>',
    recommendation: 'consider splitting the shard or rebalancing load',
    forMs: 0,
  },
  { name: 'SlowQueries', metric: 'latency_p99_seconds', warning: 1, warningOp: '>', forMs: 0 },
  { name: 'PoolExhaustion', metric: 'pool_exhaustion_rate', warning: 0.1, warningOp: '>', forMs: 0 },
  {
    name: 'ServerDown',
    metric: 'server_down',
    critical: 1,
    warningOp: '>',
    recommendation: 'check the server process and its host; reads move to the other servers of the shard',
    forMs: 0,
  },
  {
    name: 'ServerShunned',
    metric: 'servers_shunned',
    warning: 0,
    warningOp: '>',
    recommendation:
      'a server failed connections and is out of rotation; check it (GET /api/shards shows why)',
    forMs: 0,
  },
  {
    name: 'TwoPhaseInDoubt',
    metric: 'twopc_in_doubt_seconds',
    warning: 60,
    critical: 600,
    warningOp: '>',
    recommendation:
      'a cross-shard transaction stays prepared (holding its locks): bring its server back, or see `shardgate txn list` and `shardgate txn resolve`',
    forMs: 0,
  },
];

export const observabilitySchema = z.object({
  enabled: z.boolean().default(true),
  healthIntervalMs: z.number().int().min(100).default(5_000),
  hotKeys: z
    .object({
      enabled: z.boolean().default(true),
      topK: z.number().int().min(1).default(100),
      windowMs: z.number().int().min(1_000).default(3_600_000),
      buckets: z.number().int().min(1).default(12),
    })
    .default({ enabled: true, topK: 100, windowMs: 3_600_000, buckets: 12 }),
  /** Per-statement statistics (/api/queries): memory bound, least-called entries go first. */
  statements: z
    .object({
      maxBytes: z
        .number()
        .int()
        .min(0)
        .default(8 * 1024 * 1024),
    })
    .default({ maxBytes: 8 * 1024 * 1024 }),
  /** Per-table read counters of the routing advice: memory bound, least-read tables go first. */
  tableAccess: z
    .object({
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
    })
    .default({ maxBytes: 1024 * 1024 }),
  /** Per-shard history (/api/history, reports): an append-only JSON-lines file in dir. */
  history: z
    .object({
      enabled: z.boolean().default(true),
      dir: z.string().default('.shardgate/history'),
      intervalMs: z.number().int().min(100).default(60_000),
      retentionMs: z
        .number()
        .int()
        .min(1_000)
        .default(35 * 24 * 3_600_000),
      maxBytes: z
        .number()
        .int()
        .min(64 * 1024)
        .default(64 * 1024 * 1024),
    })
    .default({
      enabled: true,
      dir: '.shardgate/history',
      intervalMs: 60_000,
      retentionMs: 35 * 24 * 3_600_000,
      maxBytes: 64 * 1024 * 1024,
    }),
  /** Reports: the data size a shard should not outgrow (the scaling plan's threshold). */
  reports: z
    .object({
      sizeThresholdBytes: z
        .number()
        .int()
        .min(1)
        .default(100 * 1024 * 1024 * 1024),
    })
    .default({ sizeThresholdBytes: 100 * 1024 * 1024 * 1024 }),
  alerts: z
    .object({
      rules: z.array(alertRuleSchema).default(DEFAULT_ALERT_RULES),
      webhookUrl: z.string().url().optional(),
      evaluateIntervalMs: z.number().int().min(100).default(5_000),
    })
    .default({ rules: DEFAULT_ALERT_RULES, evaluateIntervalMs: 5_000 }),
});

export const spareSchema = serverSchema.extend({ replicas: z.array(serverSchema).default([]) });
export type SpareConfig = z.infer<typeof spareSchema>;

export const migrationSchema = z.object({
  rowsPerSecond: z.number().int().min(1).default(1_000),
  bytesPerSecond: z
    .number()
    .int()
    .min(1)
    .default(100 * 1024 * 1024),
  /** "HH:MM-HH:MM" local time in which the throttle is relaxed. */
  maintenanceWindow: z
    .string()
    .regex(/^\d\d:\d\d-\d\d:\d\d$/)
    .optional(),
  maintenanceMultiplier: z.number().min(1).default(10),
  batchRows: z.number().int().min(1).default(500),
  cutoverDeadlineMs: z.number().int().min(10).default(2_000),
  /**
   * The block's deadline when the cutover is fenced across instances (`--control etcd://`): every
   * instance holds writes for the range until the switch, so the budget of DESIGN (250 ms) is the
   * bound; past it the block aborts and traffic stays on the old shards (docs/control-plane.md).
   */
  fencedCutoverDeadlineMs: z.number().int().min(10).default(250),
  inflightGraceMs: z.number().int().min(0).default(500),
  /**
   * Cutover attempts of a run before the migration waits for `migrate resume` (a start or resume
   * request may give its own). Each attempt first waits until the capture is nearly caught up.
   */
  cutoverAttempts: z.number().int().min(1).default(5),
  /** Wait after an aborted attempt, doubling per attempt up to 30 s: a busy source gets time to calm. */
  cutoverBackoffMs: z.number().int().min(0).default(1_000),
  stateDir: z.string().default('.shardgate/migrations'),
  /**
   * Spare servers targets may be chosen from. A spare's `replicas` are streaming standbys of it
   * (the operator seeds them, e.g. pg_basebackup -R); they become the new shard's replicas at the
   * switch and serve its reads once they have replayed the switch position (docs/cutover.md).
   */
  spares: z.array(spareSchema).default([]),
});

/** The PostgreSQL front end: TCP, and optionally a Unix socket like PgBouncer's unix_socket_dir. */
const postgresListen = hostPort.extend({
  /** Also accept clients on `<socketDir>/.s.PGSQL.<port>` (psql -h <socketDir> -p <port>). */
  socketDir: z.string().min(1).optional(),
});

/** Transactions that write on several shards (docs/transactions.md). */
export const transactionsSchema = z.object({
  /**
   * refuse: a transaction stays on one shard (CROSS_SHARD_TRANSACTION); two_phase: it may join
   * other shards, one statement at a time, and commits with two-phase commit.
   */
  crossShard: z.enum(['refuse', 'two_phase']).default('two_phase'),
  /**
   * lock_timeout of every statement of a transaction once it spans shards: a deadlock whose cycle
   * crosses shards is seen by no server, so it ends in 55P03 after this long (0: wait forever).
   */
  lockTimeoutMs: z.number().int().min(0).default(2_000),
  /** How often recovery resolves prepared transactions left in doubt (also run at start). */
  recoveryIntervalMs: z.number().int().min(100).default(5_000),
  /**
   * Recovery leaves a prepared transaction younger than this alone: its coordinator may still be
   * deciding (in another shardgate process). Recovery is safe either way (see docs/transactions.md).
   */
  recoveryMinAgeMs: z.number().int().min(0).default(2_000),
});

export const configSchema = z.object({
  listen: z
    .object({
      postgres: postgresListen.default({ host: '127.0.0.1', port: 6432 }),
      mysql: hostPort.optional(),
      admin: hostPort.default({ host: '127.0.0.1', port: 9930 }),
    })
    .default({ postgres: { host: '127.0.0.1', port: 6432 }, admin: { host: '127.0.0.1', port: 9930 } }),
  /** Worker processes (node:cluster). 1 runs in-process; "auto" uses the core count. */
  workers: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
  tls: z.object({ cert: z.string(), key: z.string(), required: z.boolean().default(false) }).optional(),
  limits: z
    .object({
      maxMessageBytes: z
        .number()
        .int()
        .min(1024)
        .default(64 * 1024 * 1024),
      maxClientConnections: z.number().int().min(1).default(10_000),
      /** Connections one source address may hold before they authenticate (both protocols together). */
      maxUnauthenticatedPerAddress: z.number().int().min(1).default(128),
      /** Close a client that has not finished startup within this time. */
      startupTimeoutMs: z.number().int().min(1).default(10_000),
      /** Bytes of a client's statements waiting for their turn before shardgate stops reading it. */
      maxPendingClientBytes: z
        .number()
        .int()
        .min(1024)
        .default(4 * 1024 * 1024),
      /** Prepared statements one client session may hold (both protocols). */
      maxPreparedStatementsPerSession: z.number().int().min(1).default(1_000),
      /** Tokens of one statement text shardgate analyzes; a longer text is refused (parsing blocks every session). */
      maxStatementTokens: z.number().int().min(100).default(100_000),
    })
    .default({
      maxMessageBytes: 64 * 1024 * 1024,
      maxClientConnections: 10_000,
      maxUnauthenticatedPerAddress: 128,
      startupTimeoutMs: 10_000,
      maxPendingClientBytes: 4 * 1024 * 1024,
      maxPreparedStatementsPerSession: 1_000,
      maxStatementTokens: 100_000,
    }),
  /**
   * Database names clients may connect to (the logical database). Empty: any name, served by each
   * server's own database. A name alone is served by each server's own database too; an entry
   * { name, database, shards } maps the client-visible name to a backend database, per shard when
   * `shards` names it (PgBouncer's [databases] / PgDog's databases).
   */
  databases: z.array(z.union([z.string().min(1), databaseMappingSchema])).default([]),
  /**
   * Users not in `users` are looked up on the default shard's primary (PgBouncer's auth_user +
   * auth_query): the query gets the user name as $1 and returns (name, verifier) from pg_shadow or
   * an equivalent SECURITY DEFINER function. Such users log in with that verifier and reach the
   * servers as themselves: SCRAM keys from their own exchange, or the md5 hash.
   */
  authQuery: z
    .strictObject({
      user: z.string().min(1),
      password: secretString.default(''),
      query: z.string().min(1).default('SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = $1'),
      /** Database the auth user connects to; default backend.database. */
      database: z.string().min(1).optional(),
      /** A looked-up verifier is reused this long before the next login asks again. */
      cacheMs: z.number().int().min(0).default(10_000),
    })
    .optional(),
  users: z.array(userSchema).min(1, 'at least one user is needed'),
  /** Credentials shardgate uses towards the backend servers. */
  backend: z
    .object({
      user: z.string().default('postgres'),
      password: secretString.default(''),
      database: z.string().default('postgres'),
      /** MySQL side credentials. */
      mysqlUser: z.string().default('root'),
      mysqlPassword: secretString.default(''),
      mysqlDatabase: z.string().default('shardgate'),
      /**
       * Answer a server that asks for the password in clear text (PostgreSQL `password` method,
       * MySQL mysql_clear_password). Off: such a server is refused, the password never sent.
       */
      allowCleartextPassword: z.boolean().default(false),
      /** TLS to the PostgreSQL servers (a server's own `tls` overrides it). */
      tls: backendTlsSchema.default({ mode: 'disable' }),
      /** TLS to the MySQL servers (a server's own `tls` overrides it). */
      mysqlTls: backendTlsSchema.default({ mode: 'disable' }),
    })
    .default({
      tls: { mode: 'disable' },
      mysqlTls: { mode: 'disable' },
      allowCleartextPassword: false,
      user: 'postgres',
      password: '',
      database: 'postgres',
      mysqlUser: 'root',
      mysqlPassword: '',
      mysqlDatabase: 'shardgate',
    }),
  pool: poolSchema.default(poolSchema.parse({})),
  shards: z.array(shardSchema).min(1, 'at least one shard is needed'),
  /** Shards of the MySQL side (same routing rules, other servers). */
  mysqlShards: z.array(shardSchema).default([]),
  routing: routingSchema.default(routingSchema.parse({})),
  dataTypes: z.record(z.string(), dataTypeSchema).default({}),
  tables: z.record(z.string(), tableSchema).default({}),
  observability: observabilitySchema.default(observabilitySchema.parse({})),
  /** The result cache (dataTypes.*.cacheTtlMs turns it on per data type). */
  cache: z
    .object({
      maxBytes: z
        .number()
        .int()
        .min(0)
        .default(64 * 1024 * 1024),
      /** Larger results are never cached. */
      maxEntryBytes: z
        .number()
        .int()
        .min(0)
        .default(1024 * 1024),
      /**
       * A tier in Redis shared by several shardgate instances (src/cache/shared-tier.ts): local
       * misses ask it, fills are copied to it, writes are published to every instance.
       */
      shared: z
        .strictObject({
          /** redis://[user:password@]host:port[/db]; a secret (env: or file: to keep it out of the file). */
          redis: secretString,
          keyPrefix: z.string().min(1).max(100).default('shardgate:cache:'),
          /** Deadline of one Redis call; past it the call is a miss and the query goes on. */
          timeoutMs: z.number().int().min(1).max(10_000).default(50),
          /** Copies to Redis in flight at most (more are dropped while Redis is slow). */
          maxPendingWrites: z.number().int().min(1).max(100_000).default(256),
        })
        .optional(),
    })
    .default({ maxBytes: 64 * 1024 * 1024, maxEntryBytes: 1024 * 1024 }),
  admin: z
    .object({
      token: secretString.optional(),
      /** Host names (besides loopback names and IP addresses) the admin API answers to; DNS-rebinding guard. */
      allowedHosts: z.array(z.string().min(1)).default([]),
    })
    .default({ allowedHosts: [] }),
  migration: migrationSchema.default(migrationSchema.parse({})),
  transactions: transactionsSchema.default(transactionsSchema.parse({})),
  log: z
    .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
    .default({ level: 'info' }),
});

export type ShardgateConfigInput = z.input<typeof configSchema>;
export type ShardgateConfig = z.infer<typeof configSchema>;
