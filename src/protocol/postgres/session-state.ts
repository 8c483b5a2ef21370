// Everything a client session knows, in one inspectable value (DESIGN principle 4): transaction
// status, session settings to replay on whichever server connection it lands on, prepared
// statements by client name, the read-your-writes positions, and the routing context.
import { createHash } from 'node:crypto';
import { defaultSessionContext } from '../../router/inputs.js';
import type { CommonSessionState } from '../session-state-common.js';

export interface PreparedStatement {
  /** Name the client uses. */
  clientName: string;
  /** Name on every server connection: the same text and types always get the same name. */
  serverName: string;
  sql: string;
  paramTypes: number[];
  /** The result shape the client was told by its last Describe (statement-shapes.ts). */
  shape?: string;
}

/** Besides the state both protocols keep (CommonSessionState). */
export interface SessionState extends CommonSessionState {
  database: string;
  /** Startup parameters as the client sent them (application_name, DateStyle, options, ...). */
  startupParameters: Map<string, string>;
  /** Session-level settings the client made (SET name = value) that every server must mirror. */
  settings: Map<string, string>;
  /** Settings made inside the open transaction: kept on COMMIT, dropped on ROLLBACK. */
  pendingSettings: Map<string, string | null>;
  /** Client transaction status as the client sees it: I, T or E. */
  txStatus: 'I' | 'T' | 'E';
  /** The transaction failed on an error shardgate raised itself (the server never saw it). */
  proxyAborted: boolean;
  /** The open transaction's BEGIN text: a shard the transaction joins later starts it the same way. */
  beginStatement: string | null;
  prepared: Map<string, PreparedStatement>;
}

export function newSessionState(user: string, database: string, startup: Map<string, string>): SessionState {
  return {
    user,
    database,
    startupParameters: startup,
    settings: new Map(),
    pendingSettings: new Map(),
    txStatus: 'I',
    proxyAborted: false,
    deferredBegin: null,
    beginStatement: null,
    transactionReadOnly: false,
    transactionShard: null,
    transactionServer: null,
    prepared: new Map(),
    lastWritePositions: new Map(),
    context: defaultSessionContext(),
    pinnedReason: null,
  };
}

const serverNameCache = new Map<string, string>();
/** Statements whose server-side plans were invalidated by DDL: key -> generation (name suffix). */
const generations = new Map<string, number>();
/** Bumped by every DDL shardgate forwards: a Parse after it never reuses an older server copy. */
let ddlEpoch = 0;

/** Deterministic server-side statement name, like PgBouncer's PGBOUNCER_<n>. */
export function serverStatementName(sql: string, paramTypes: number[]): string {
  const key = `${paramTypes.join(',')}|${sql}`;
  let name = serverNameCache.get(key);
  if (!name) {
    name = `sg_${createHash('sha1').update(key).digest('hex').slice(0, 20)}`;
    const generation = generations.get(key);
    if (generation !== undefined) name += `_${generation}`;
    if (ddlEpoch > 0) name += `e${ddlEpoch}`;
    if (serverNameCache.size > 50_000) serverNameCache.clear();
    serverNameCache.set(key, name);
  }
  return name;
}

/**
 * DDL went through: a client's new Parse must plan against the new schema, as it would on a
 * direct connection, not reuse a server copy prepared before (whose result type may now differ:
 * "cached plan must not change result type"). Statements clients already hold keep their names.
 */
export function invalidateServerStatementsAfterDdl(): void {
  ddlEpoch++;
  serverNameCache.clear();
}

/**
 * The server statement `name` can no longer run (its result type changed after DDL): later Parses
 * of this text get a new name, so every server connection prepares it afresh. Connections keep
 * the old one until their LRU closes it.
 */
export function invalidateServerStatement(sql: string, paramTypes: number[], name: string): void {
  const key = `${paramTypes.join(',')}|${sql}`;
  if (serverNameCache.get(key) !== name) return; // already renamed
  if (generations.size > 10_000) generations.clear();
  generations.set(key, (generations.get(key) ?? 0) + 1);
  serverNameCache.delete(key);
}

/** Startup parameters that are session settings every server connection must mirror. */
export const TRACKED_STARTUP_PARAMETERS = [
  'application_name',
  'client_encoding',
  'datestyle',
  'timezone',
  'intervalstyle',
  'search_path',
  'extra_float_digits',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'default_transaction_isolation',
  'default_transaction_read_only',
  'role',
];
