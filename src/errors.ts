// One table of every error a client can see. Each entry has a stable code, the SQLSTATE the
// PostgreSQL front end sends, the errno + SQLSTATE the MySQL front end sends, and a message
// template that tells the user what to do. Nothing else in the code base invents client errors.

export interface ErrorSpec {
  sqlstate: string;
  mysqlErrno: number;
  /** Severity on the PostgreSQL side; FATAL closes the connection. */
  severity: 'ERROR' | 'FATAL';
  message: string;
}

export const ERRORS = {
  // --- protocol / framing -------------------------------------------------------------------
  PROTOCOL_VIOLATION: {
    sqlstate: '08P01',
    mysqlErrno: 1047,
    severity: 'FATAL',
    message: 'protocol violation: {detail}; the connection is closed, reconnect and retry',
  },
  MESSAGE_TOO_LARGE: {
    sqlstate: '54000',
    mysqlErrno: 1153,
    severity: 'FATAL',
    message:
      'message of {size} bytes exceeds the configured maximum of {max} bytes (limits.maxMessageBytes); send smaller statements or raise the limit',
  },
  PENDING_BATCH_TOO_LARGE: {
    sqlstate: '54000',
    mysqlErrno: 1153,
    severity: 'FATAL',
    message:
      'more than {max} bytes of extended-protocol messages arrived without a Sync (limits.maxPendingClientBytes); send Sync more often or raise the limit',
  },
  UNSUPPORTED_PROTOCOL: {
    sqlstate: '08P01',
    mysqlErrno: 1047,
    severity: 'FATAL',
    message: 'unsupported frontend protocol {version}: shardgate speaks protocol 3.0',
  },
  REPLICATION_UNKNOWN_SHARD: {
    sqlstate: '3D000',
    mysqlErrno: 1049,
    severity: 'FATAL',
    message:
      'a replication connection streams one shard\'s primary; startup parameter shardgate.shard names "{shard}", which is not a shard (known: {known})',
  },
  UNKNOWN_COMMAND: {
    sqlstate: '08P01',
    mysqlErrno: 1047,
    severity: 'ERROR',
    message: 'unknown command {detail}; this client sent a message shardgate does not understand',
  },
  // --- authentication -----------------------------------------------------------------------
  AUTH_FAILED: {
    sqlstate: '28P01',
    mysqlErrno: 1045,
    severity: 'FATAL',
    message: 'password authentication failed for user "{user}"',
  },
  UNKNOWN_USER: {
    // Same text as a wrong password so that user names cannot be probed.
    sqlstate: '28P01',
    mysqlErrno: 1045,
    severity: 'FATAL',
    message: 'password authentication failed for user "{user}"',
  },
  UNKNOWN_DATABASE: {
    sqlstate: '3D000',
    mysqlErrno: 1049,
    severity: 'FATAL',
    message: 'database "{database}" is not served by shardgate; use one of: {known}',
  },
  TOO_MANY_CLIENTS: {
    sqlstate: '53300',
    mysqlErrno: 1040,
    severity: 'FATAL',
    message: 'too many client connections ({max}); retry later or raise limits.maxClientConnections',
  },
  TOO_MANY_UNAUTHENTICATED: {
    sqlstate: '53300',
    mysqlErrno: 1040,
    severity: 'FATAL',
    message:
      'too many connections from {address} that have not logged in yet ({max}); finish or close them, or raise limits.maxUnauthenticatedPerAddress',
  },
  PREPARED_STATEMENT_LIMIT: {
    sqlstate: '53400',
    mysqlErrno: 1461,
    severity: 'ERROR',
    message:
      'this session already holds {max} prepared statements (limits.maxPreparedStatementsPerSession); close (deallocate) statements you no longer use',
  },
  TLS_REQUIRED: {
    sqlstate: '28000',
    mysqlErrno: 3159,
    severity: 'FATAL',
    message: 'this shardgate listener requires TLS; connect with sslmode=require',
  },
  // --- backends / pools ---------------------------------------------------------------------
  BACKEND_LOGIN_REFUSED: {
    // The server refused this user's own role (users[].backend): not a server fault, no retry.
    sqlstate: '28000',
    mysqlErrno: 1045,
    severity: 'FATAL',
    message:
      '{server} of shard {shard} refused the login of role "{role}": {detail}; create the role there with LOGIN and the password shardgate uses (users[].backend), or give the user backend: service',
  },
  BACKEND_UNAVAILABLE: {
    sqlstate: '08006',
    mysqlErrno: 2003,
    severity: 'ERROR',
    message: 'cannot reach {server} of shard {shard}: {detail}; retry shortly',
  },
  BACKEND_TLS_REFUSED: {
    sqlstate: '08006',
    mysqlErrno: 2026,
    severity: 'ERROR',
    message:
      "TLS to {server} of shard {shard} failed: {detail}; check the server's tls settings (backend.tls or backend.mysqlTls: mode, ca, serverName) against its certificate",
  },
  BACKEND_DIED: {
    sqlstate: '08006',
    mysqlErrno: 2013,
    severity: 'FATAL',
    message:
      'the connection to {server} of shard {shard} was lost during the query: {detail}; the transaction, if any, is rolled back: reconnect and retry',
  },
  BACKEND_LOST: {
    sqlstate: '40001',
    mysqlErrno: 1213,
    severity: 'ERROR',
    message:
      'the connection to {server} of shard {shard} was lost during the statement ({detail}); it did not complete and changed nothing: retry it',
  },
  BACKEND_LOST_IN_TRANSACTION: {
    sqlstate: '40001',
    mysqlErrno: 1213,
    severity: 'ERROR',
    message:
      'the connection to {server} of shard {shard} was lost inside the transaction ({detail}); the server rolled the transaction back: send ROLLBACK, then retry the transaction',
  },
  BACKEND_LOST_OUTCOME_UNKNOWN: {
    sqlstate: '08007',
    mysqlErrno: 1180,
    severity: 'ERROR',
    message:
      'the connection to {server} of shard {shard} was lost while a write or COMMIT ran ({detail}); it may or may not have taken effect: check before retrying',
  },
  POOL_TIMEOUT: {
    sqlstate: '53300',
    mysqlErrno: 1040,
    severity: 'ERROR',
    message:
      'no server connection to {server} became free within {ms} ms (pool size {size}); retry, or raise pool.size',
  },
  USER_SERVER_CONNECTION_LIMIT: {
    sqlstate: '53300',
    mysqlErrno: 1203,
    severity: 'ERROR',
    message:
      'user "{user}" holds {max} server connections (its limit: pool.maxServerConnectionsPerUser or users[].maxServerConnections) and none came free within {ms} ms; end open transactions, release pins (advisory locks, LISTEN, temporary tables) or retry later',
  },
  IDLE_TRANSACTION_TIMEOUT: {
    sqlstate: '25P03',
    mysqlErrno: 4031,
    severity: 'FATAL',
    message:
      'the session was idle in a transaction for more than {ms} ms (pool.idleTransactionTimeoutMs) and is closed, its transaction rolled back; commit sooner, then reconnect',
  },
  MULTIPLEX_CLIENT_STALLED: {
    sqlstate: '57P05',
    mysqlErrno: 4031,
    severity: 'FATAL',
    message:
      "the session read none of its results for {ms} ms (pool.checkoutTimeoutMs) while other clients' statements waited behind them on a shared server connection (pool.multiplex), so it is closed; read results as they come, or set pool.multiplex.enabled: false",
  },
  CLIENT_WAIT_TIMEOUT: {
    sqlstate: 'HY000',
    mysqlErrno: 4031,
    severity: 'FATAL',
    // MySQL 8's own text (ER_CLIENT_INTERACTION_TIMEOUT): drivers compare it.
    message:
      'The client was disconnected by the server because of inactivity. See wait_timeout and interactive_timeout for configuring this behavior.',
  },
  QUERY_CANCELED: {
    sqlstate: '57014',
    mysqlErrno: 1317,
    severity: 'ERROR',
    message: 'canceling statement due to user request',
  },
  // --- routing --------------------------------------------------------------------------------
  CROSS_SHARD_TRANSACTION: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      "this transaction already runs on shard {first} and the statement needs shard {second}; a transaction may span shards only with transactions.crossShard: two_phase, one single-shard statement at a time: keep the transaction on one shard key, or send each shard's statement on its own",
  },
  CROSS_SHARD_REFUSED: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      'this statement would make the transaction span shards ({shards}), which {refusedBy} refuses (crossShard: refuse): keep the transaction on one shard key, commit before touching the other shard, or set crossShard: two_phase for the data type',
  },
  CROSS_SHARD_UNIT: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      'this message needs shard {first} and shard {second}; a transaction may span shards, but one message (a multi-statement query or one Sync batch) runs on one shard: send the statements separately',
  },
  CROSS_SHARD_STATEMENT_IN_TRANSACTION: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      '{what} is not supported in a transaction that spans several shards ({shards}); send COMMIT, ROLLBACK and savepoint statements alone (MySQL: as queries, not prepared)',
  },
  TWO_PHASE_ABORTED: {
    sqlstate: '40001',
    mysqlErrno: 1213,
    severity: 'ERROR',
    message:
      'the cross-shard transaction was rolled back on every shard: {detail}; nothing was committed, retry the transaction',
  },
  COMPENSATED: {
    sqlstate: '40001',
    mysqlErrno: 1213,
    severity: 'ERROR',
    message:
      'the cross-shard transaction {id} failed on one shard ({detail}) after {committed} committed; shardgate undid what committed with its compensating statements (compensate mode). Other sessions may have seen those writes in between: see /api/transactions, then retry the transaction',
  },
  COMPENSATION_INCOMPLETE: {
    sqlstate: '40001',
    mysqlErrno: 1180,
    severity: 'ERROR',
    message:
      'the cross-shard transaction {id} failed on one shard ({detail}) after {committed} committed, and its compensation is {state}: the committed part may still be in place. See /api/transactions for its outcome before retrying',
  },
  COMPENSATE_OUTCOME_UNKNOWN: {
    sqlstate: '08007',
    mysqlErrno: 1180,
    severity: 'ERROR',
    message:
      'the cross-shard transaction {id} lost a shard during COMMIT ({detail}); recovery learns which shards committed and undoes them with the compensating statements: see /api/transactions before retrying',
  },
  TWO_PHASE_OUTCOME_UNKNOWN: {
    sqlstate: '08007',
    mysqlErrno: 1180,
    severity: 'ERROR',
    message:
      'the cross-shard transaction {gid} was prepared on every shard but its decision could not be confirmed ({detail}); recovery commits or rolls it back everywhere from the decision log: check `shardgate txn list` before retrying',
  },
  SCATTER_WRITE_REFUSED: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      '{verb} on sharded table {table} has no shard-key condition ({column}) and would touch every shard; add "{column} = ..." or allow scatterWrites for the table in config',
  },
  ROUTING_OVERRIDE_NOT_ALLOWED: {
    sqlstate: '42501',
    mysqlErrno: 1227,
    severity: 'ERROR',
    message:
      'routing override {override} is not allowed for this user; remove it (SET shardgate.{name} = default, or drop the hint), or set routingOverrides: true for the user in the config',
  },
  ROUTING_OVERRIDE_REFUSED: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message: 'shard={shard} cannot run this statement: {detail}; remove the shard= override',
  },
  UNKNOWN_SHARD: {
    sqlstate: '42704',
    mysqlErrno: 1105,
    severity: 'ERROR',
    message: 'shard "{shard}" named in a hint does not exist; known shards: {known}',
  },
  INVALID_HINT: {
    sqlstate: '22023',
    mysqlErrno: 1231,
    severity: 'ERROR',
    message: 'invalid shardgate setting {name} = {value}: {detail}',
  },
  MERGE_ROW_LIMIT: {
    sqlstate: '54000',
    mysqlErrno: 1104,
    severity: 'ERROR',
    message:
      'the multi-shard result needs more than {limit} rows in memory (routing.maxMergeRows); add a shard-key condition or a LIMIT',
  },
  MERGE_MEMORY_LIMIT: {
    sqlstate: '53200',
    mysqlErrno: 1041,
    severity: 'ERROR',
    message:
      'the multi-shard result needs more than {limit} bytes in memory (routing.maxMergeBytes); add a shard-key condition or a LIMIT',
  },
  MERGED_VALUE_OUT_OF_RANGE: {
    sqlstate: '22003',
    mysqlErrno: 1690,
    severity: 'ERROR',
    message: '{type} out of range (computed by shardgate over the merged shard results)',
  },
  MERGED_DIVISION_BY_ZERO: {
    sqlstate: '22012',
    mysqlErrno: 1365,
    severity: 'ERROR',
    message: 'division by zero (computed by shardgate over the merged shard results)',
  },
  STATEMENT_TOO_COMPLEX: {
    sqlstate: '54001',
    mysqlErrno: 1105,
    severity: 'ERROR',
    message:
      'statement text has more than {max} tokens (limits.maxStatementTokens); send it in smaller pieces (fewer rows per INSERT, COPY or LOAD DATA for bulk loads) or raise the limit',
  },
  NONSTANDARD_STRING_LITERAL: {
    sqlstate: '22P06',
    mysqlErrno: 1105,
    severity: 'ERROR',
    message:
      "a '...' string holds a backslash while standard_conforming_strings is off, which shardgate cannot route safely; write it as E'...' or turn standard_conforming_strings on",
  },
  SCATTER_UNSUPPORTED: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message: 'cannot run this statement on several shards: {detail}; add a shard-key condition',
  },
  JOIN_NOT_COLOCATED: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      'sharded {left} and {right} are combined (join, subquery or IN) without equating their shard keys, so matching rows may live on different shards and a per-shard answer would be incomplete; add {detail}, or restrict every sharded table to one shard with a shard-key condition',
  },
  JOIN_ROWS_LIMIT: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      'the cross-shard join needs {bytes} bytes of {table} rows gathered at the proxy, past routing.maxJoinBytes ({limit}); raise routing.maxJoinBytes, narrow {table} with a condition, or join on the shard keys ({detail})',
  },
  JOIN_NOT_BROADCASTABLE: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      'the cross-shard join over {table} cannot run at the proxy: {detail}; join on the shard keys, or restrict every sharded table to one shard with a shard-key condition',
  },
  COPY_KEY_MISSING: {
    sqlstate: '23502',
    mysqlErrno: 1048,
    severity: 'ERROR',
    message:
      'COPY into sharded table {table}: row {line} has no value for its shard key {column} ({detail}), so it belongs to no shard; nothing was copied: give every row its {column}',
  },
  COPY_BAD_INPUT: {
    sqlstate: '22P04',
    mysqlErrno: 1105,
    severity: 'ERROR',
    message: 'COPY into {table}: {detail}; nothing was copied: fix the input and retry',
  },
  COPY_PARTLY_APPLIED: {
    sqlstate: '40003',
    mysqlErrno: 1180,
    severity: 'ERROR',
    message:
      'COPY into {table} committed on {committed} but not on {failed} ({detail}) because cross-shard transactions are off (transactions.crossShard: refuse); delete the rows copied on {committed} or copy the rest again with a shard= hint',
  },
  SUBQUERY_NOT_SHARD_LOCAL: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      '{what} over sharded table {table} would be computed per shard on part of the rows; group or correlate it by {table}.{column}, or restrict it to one shard with "{column} = ..."',
  },
  SHARD_KEY_UPDATE: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      'setting {table}.{column} (the shard key) to {value} would move rows to another shard, which {why}; in one transaction, DELETE the rows and INSERT them with the new key (the transaction may span both shards)',
  },
  ID_FILL_IN_TRANSACTION: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message:
      'INSERT into {table} omits {column}, which shardgate fills with a unique id only outside a transaction; give {column} a value, or run the INSERT outside BEGIN ... COMMIT',
  },
  SHARD_READ_ONLY: {
    sqlstate: '25006',
    mysqlErrno: 1290,
    severity: 'ERROR',
    message: 'shard {shard} is read-only by an operator rule; retry later',
  },
  SQL_PARSE_ERROR: {
    sqlstate: '42601',
    mysqlErrno: 1064,
    severity: 'ERROR',
    message: '{detail}',
  },
  TRANSACTION_ABORTED: {
    sqlstate: '25P02',
    mysqlErrno: 1180,
    severity: 'ERROR',
    message: 'current transaction is aborted, commands ignored until end of transaction block; send ROLLBACK',
  },
  // --- cutover ------------------------------------------------------------------------------
  CUTOVER_RETRY: {
    sqlstate: '40001',
    mysqlErrno: 1213,
    severity: 'ERROR',
    message:
      'the transaction was aborted because shard {shard} is switching over (migration {id}); retry the transaction',
  },
  MIGRATION_INVALID: {
    sqlstate: '22023',
    mysqlErrno: 1210,
    severity: 'ERROR',
    message: 'the migration cannot be planned: {detail}',
  },
  MIGRATION_STATE: {
    sqlstate: '55000',
    mysqlErrno: 1210,
    severity: 'ERROR',
    message: 'migration {id} is {phase}: {detail}',
  },
  MIGRATION_APPLY_FAILED: {
    sqlstate: '55000',
    mysqlErrno: 1210,
    severity: 'ERROR',
    message:
      'the change capture could not apply source changes on {target}: {detail}; that batch was rolled back there and the capture position did not advance, so nothing is lost: make the table on {target} accept the row (it must match the source table), then resume the migration, or abandon it',
  },
  // --- MySQL front end ------------------------------------------------------------------------
  MYSQL_MALFORMED_PACKET: {
    sqlstate: '08S01',
    mysqlErrno: 1835,
    severity: 'FATAL',
    message: 'malformed packet: {detail}; the connection is closed, reconnect and retry',
  },
  MYSQL_PACKETS_OUT_OF_ORDER: {
    sqlstate: '08S01',
    mysqlErrno: 1156,
    severity: 'FATAL',
    message: 'got packets out of order (expected sequence id {expected}, got {got}); reconnect and retry',
  },
  MYSQL_AUTH_UNAVAILABLE: {
    sqlstate: '28000',
    mysqlErrno: 1045,
    severity: 'FATAL',
    message: 'user "{user}" cannot log in with {plugin}: {detail}',
  },
  MYSQL_UNKNOWN_STATEMENT: {
    sqlstate: 'HY000',
    mysqlErrno: 1243,
    severity: 'ERROR',
    message: 'unknown prepared statement handler ({id}) given to {command}; prepare the statement again',
  },
  MYSQL_CONNECTION_KILLED: {
    sqlstate: '70100',
    mysqlErrno: 1927,
    severity: 'FATAL',
    message: 'connection {id} was killed (KILL); reconnect to continue',
  },
  MYSQL_KILL_DENIED: {
    sqlstate: 'HY000',
    mysqlErrno: 1095,
    severity: 'ERROR',
    message: 'you are not owner of thread {id}; connect as the user that owns it',
  },
  MYSQL_NO_SUCH_THREAD: {
    sqlstate: 'HY000',
    mysqlErrno: 1094,
    severity: 'ERROR',
    message: 'unknown thread id: {id}; it names no session of this shardgate (sessions that ended are gone)',
  },
  MYSQL_KILL_UNREACHED: {
    sqlstate: 'HY000',
    mysqlErrno: 1094,
    severity: 'ERROR',
    message:
      'unknown thread id: {id} on the shardgate processes that answered; {members} did not answer, and may hold it: retry the KILL',
  },
  // --- generic --------------------------------------------------------------------------------
  FEATURE_NOT_SUPPORTED: {
    sqlstate: '0A000',
    mysqlErrno: 1235,
    severity: 'ERROR',
    message: '{detail} is not supported by shardgate',
  },
  INTERNAL: {
    sqlstate: 'XX000',
    mysqlErrno: 1105,
    severity: 'ERROR',
    message: 'internal shardgate error: {detail}; the session continues, please report this',
  },
  ADMIN_SHUTDOWN: {
    sqlstate: '57P01',
    mysqlErrno: 1053,
    severity: 'FATAL',
    message: 'shardgate is shutting down; reconnect to another instance',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** A client-visible error: carries its code, SQLSTATE/errno and the rendered message. */
export class ShardgateError extends Error {
  readonly code: ErrorCode;
  readonly sqlstate: string;
  readonly mysqlErrno: number;
  readonly severity: 'ERROR' | 'FATAL';
  readonly params: Record<string, string | number>;

  constructor(code: ErrorCode, params: Record<string, string | number> = {}) {
    const spec: ErrorSpec = ERRORS[code];
    super(renderMessage(spec.message, params));
    this.name = 'ShardgateError';
    this.code = code;
    this.sqlstate = spec.sqlstate;
    this.mysqlErrno = spec.mysqlErrno;
    this.severity = spec.severity;
    this.params = params;
  }

  get fatal(): boolean {
    return this.severity === 'FATAL';
  }
}

export function renderMessage(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = params[key];
    return value === undefined ? `{${key}}` : String(value);
  });
}

/** Wraps anything thrown into a ShardgateError without losing an existing code. */
export function toShardgateError(err: unknown): ShardgateError {
  if (err instanceof ShardgateError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new ShardgateError('INTERNAL', { detail });
}
