// The planner's inputs besides the facts: the session's routing state and a snapshot of the
// topology with the live state of every server. Both are plain values, so the planner stays pure.
import type { ConsistencyLevel, DataTypeConfig, RoutingConfig, TableConfig } from '../config/schema.js';
import type { KeyRange } from '../domain/keyspace.js';

/** Per-session hints that adjust read consistency (startup parameter, SET shardgate.*, or comment). */
export interface SessionContext {
  vip: boolean;
  realtime: boolean;
  batterySaving: boolean;
  /** Explicit level for all reads of this session (SET shardgate.consistency = ...). */
  consistency: ConsistencyLevel | null;
  /** Force a shard / role for subsequent statements (operators, debugging). */
  shard: string | null;
  role: 'primary' | 'replica' | null;
  /** The logged-in user may use shard= and role=replica (config users[].routingOverrides). */
  overridesAllowed: boolean;
  /** SET shardgate.cross_shard = refuse: this session's transactions stay on one shard (stricter only). */
  crossShardRefused?: boolean;
  /** SET shardgate.cross_shard = two_phase: never compensate, always two-phase commit (stricter only). */
  crossShardTwoPhase?: boolean;
}

export function defaultSessionContext(): SessionContext {
  return {
    vip: false,
    realtime: false,
    batterySaving: false,
    consistency: null,
    shard: null,
    role: null,
    overridesAllowed: false,
    crossShardRefused: false,
    crossShardTwoPhase: false,
  };
}

/** What the router needs from a session's state machine. */
export interface RoutingSession {
  context: SessionContext;
  /** Inside BEGIN ... COMMIT (or an implicit multi-statement transaction). */
  inTransaction: boolean;
  /** BEGIN READ ONLY. */
  transactionReadOnly: boolean;
  /** Shard the open transaction runs on, once its first statement has chosen one. */
  transactionShard: string | null;
  /** Server the open transaction runs on (a replica for READ ONLY transactions). */
  transactionServer: string | null;
  /** A transaction spanning shards: the server it holds on each shard (its participants). */
  transactionServers?: ReadonlyMap<string, string>;
  /** A transaction may join a second shard with a one-shard statement (transactions.crossShard). */
  crossShardTransactions?: boolean;
  /** A data type with crossShard: refuse the open transaction touched: it may not span shards. */
  crossShardRefusedBy?: string | null;
  /** read_your_writes: last commit position per shard name (LSN "X/Y" or GTID). */
  lastWritePositions: ReadonlyMap<string, string>;
  /** PostgreSQL standard_conforming_strings is off: a backslash in a '...' string escapes. */
  backslashQuotes?: boolean;
}

export interface ServerView {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  /** Answers the health probe and is not drained by an operator. */
  healthy: boolean;
  /** Operator rule: no new reads. */
  drained: boolean;
  /** Replay lag in ms; null = unknown (never treated as zero). */
  lagMs: number | null;
  /** Last replayed position (replicas) or current write position (primaries); null = unknown. */
  position: string | null;
  /** Requests in flight on this server right now (for eventual's balancing). */
  outstanding: number;
  /** Smoothed round-trip time of the health probe in ms; null = unknown. */
  rttMs: number | null;
  /**
   * A replica that must replay this position before it serves any read (a cutover's switch
   * position: before it, the replica lacks rows its shard's primary already had when reads moved
   * there). Cleared by the probe once replayed; absent or null = no such condition.
   */
  catchUpTo?: string | null;
}

export interface ShardView {
  name: string;
  range: KeyRange;
  readOnly: boolean;
  primary: ServerView;
  replicas: ServerView[];
}

export interface TopologyView {
  version: number;
  shards: ShardView[];
  defaultShard: string;
  tables: Readonly<Record<string, TableConfig>>;
  dataTypes: Readonly<Record<string, DataTypeConfig>>;
  routing: RoutingConfig;
}
