// Everything a MySQL client session knows, in one inspectable value (DESIGN principle 4): the
// capabilities it negotiated, its schema and session variables (replayed on whichever backend
// connection it lands on), its transaction, its prepared statements, its read-your-writes
// positions and routing context, and why its backend connection is pinned, if it is.
import { defaultSessionContext, type RoutingSession } from '../../router/inputs.js';
import type { AnalyzedQuery } from '../../sql/analyzer.js';
import type { CommonSessionState } from '../session-state-common.js';
import type { ColumnDefinition } from './columns.js';
import { CAP, STATUS } from './constants.js';
import type { ParamType } from './statements.js';

/** A statement the client prepared (its id is shardgate's, not any server's). */
export interface ClientStatement {
  id: number;
  sql: string;
  paramCount: number;
  params: ColumnDefinition[];
  columns: ColumnDefinition[];
  /** The text's analysis, made on the first execute (it depends on the text only). */
  analyzed?: AnalyzedQuery;
  /** Parameter types the client bound last (COM_STMT_EXECUTE may leave them out). */
  types: ParamType[] | null;
  /** COM_STMT_SEND_LONG_DATA chunks per parameter, sent before the next execute. */
  longData: Map<number, Buffer[]>;
  longDataBytes: number;
}

/** Besides the state both protocols keep (CommonSessionState). */
export interface MysqlSessionState extends CommonSessionState {
  /** Shardgate's connection id for this client (handshake, KILL). */
  connectionId: number;
  /** The client's capabilities intersected with ours. */
  capabilities: number;
  /** MariaDB extended column metadata negotiated (column definitions carry the real type). */
  extendedMetadata: boolean;
  /** COM_SET_OPTION can switch multi-statements on and off after login. */
  multiStatements: boolean;
  collation: number;
  schema: string;
  /** Session variables every backend connection must mirror (name -> value, in order). */
  vars: Map<string, string>;
  /** Inside a transaction on a server (its status says IN_TRANS), or a deferred BEGIN. */
  inTransaction: boolean;
  /** SET TRANSACTION (next transaction only), sent ahead of the next statement wherever it runs. */
  nextTransaction: string | null;
  /**
   * The transaction's server connection was lost (transaction pooling): the transaction is gone,
   * and statements get this error until the client ends it (ROLLBACK, COMMIT) or begins anew.
   */
  lostTransaction: Error | null;
  prepared: Map<number, ClientStatement>;
  /** Status flags the session reported last (AUTOCOMMIT, IN_TRANS ...). */
  status: number;
  /** Commands and statements seen (COM_STATISTICS). */
  questions: number;
}

export function newSessionState(init: {
  connectionId: number;
  user: string;
  capabilities: number;
  extendedMetadata?: boolean;
  collation: number;
  schema: string;
  charsetVars: Array<[string, string]>;
}): MysqlSessionState {
  return {
    connectionId: init.connectionId,
    user: init.user,
    capabilities: init.capabilities,
    extendedMetadata: init.extendedMetadata ?? false,
    multiStatements: (init.capabilities & CAP.MULTI_STATEMENTS) !== 0,
    collation: init.collation,
    schema: init.schema,
    vars: new Map(init.charsetVars),
    inTransaction: false,
    deferredBegin: null,
    nextTransaction: null,
    transactionReadOnly: false,
    transactionShard: null,
    transactionServer: null,
    lostTransaction: null,
    prepared: new Map(),
    lastWritePositions: new Map(),
    context: defaultSessionContext(),
    pinnedReason: null,
    status: STATUS.AUTOCOMMIT,
    questions: 0,
  };
}

/**
 * The next statement runs inside a transaction: one is open, a BEGIN waits to be sent, or
 * autocommit is off (the statement itself then starts one on its server).
 */
export function nextInTransaction(s: MysqlSessionState): boolean {
  return s.inTransaction || s.deferredBegin !== null || s.vars.get('autocommit') === 'OFF';
}

/**
 * What the router needs of the session; `crossShard`: whether its transaction may join other
 * shards, and the server it holds on each shard once it does (the command cycle knows both).
 */
export function routingSession(
  s: MysqlSessionState,
  crossShard?: {
    allowed: boolean;
    servers: ReadonlyMap<string, string> | null;
    refusedBy: string | null;
  },
): RoutingSession {
  return {
    context: s.context,
    inTransaction: nextInTransaction(s),
    transactionReadOnly: s.transactionReadOnly,
    transactionShard: s.transactionShard,
    transactionServer: s.transactionServer,
    ...(crossShard?.servers ? { transactionServers: crossShard.servers } : {}),
    ...(crossShard?.allowed
      ? { crossShardTransactions: true, crossShardRefusedBy: crossShard.refusedBy }
      : {}),
    lastWritePositions: s.lastWritePositions,
  };
}

/** Status flags for a reply shardgate makes itself. */
export function localStatus(s: MysqlSessionState): number {
  let status = s.status & ~(STATUS.IN_TRANS | STATUS.MORE_RESULTS_EXISTS | STATUS.SESSION_STATE_CHANGED);
  if (s.vars.get('autocommit') === 'OFF') status &= ~STATUS.AUTOCOMMIT;
  else status |= STATUS.AUTOCOMMIT;
  if (s.inTransaction || s.deferredBegin !== null) status |= STATUS.IN_TRANS;
  return status;
}

export function deprecateEof(s: MysqlSessionState): boolean {
  return (s.capabilities & CAP.DEPRECATE_EOF) !== 0;
}

export function foundRows(s: MysqlSessionState): boolean {
  return (s.capabilities & CAP.FOUND_ROWS) !== 0;
}
