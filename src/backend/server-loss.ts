// A server connection lost under a client (the server died, was shut down, or dropped it). In
// transaction pooling the client's session survives it: the statement, or the transaction, fails
// with one of the BACKEND_LOST* errors, and a read nobody saw a byte of may be run elsewhere.
import { ShardgateError } from '../errors.js';
import type { PlannedStatement } from '../router/router.js';

export type ServerLossCode = 'BACKEND_LOST' | 'BACKEND_LOST_IN_TRANSACTION' | 'BACKEND_LOST_OUTCOME_UNKNOWN';

export class ServerLostError extends ShardgateError {
  constructor(
    code: ServerLossCode,
    params: { server: string; shard: string; detail: string },
    /** A read outside a transaction of which the client saw no row: safe to run elsewhere. */
    readonly retryable: boolean,
    /** The start of the response the client already has (a run elsewhere must not repeat it). */
    readonly preamble: Buffer | null = null,
  ) {
    super(code, params);
  }
}

/** The lost statement's situation, as the binding saw it when its connection went away. */
export interface LossContext {
  inTransaction: boolean;
  /** The unit commits (COMMIT, END) or may change data. */
  commits: boolean;
  writes: boolean;
  /** More than the preamble of the unit's response (a row, a completion) reached the client. */
  clientSawBytes: boolean;
}

export function serverLossError(
  ctx: LossContext,
  params: { server: string; shard: string; detail: string },
  preamble: Buffer | null,
): ServerLostError {
  if (ctx.commits || (!ctx.inTransaction && ctx.writes))
    return new ServerLostError('BACKEND_LOST_OUTCOME_UNKNOWN', params, false);
  if (ctx.inTransaction) return new ServerLostError('BACKEND_LOST_IN_TRANSACTION', params, false);
  return new ServerLostError(
    'BACKEND_LOST',
    params,
    !ctx.clientSawBytes,
    ctx.clientSawBytes ? null : preamble,
  );
}

/** Statement kinds that change no data (a lost one of these cannot have half-happened). */
const NON_WRITING_KINDS = new Set(['read', 'transaction', 'session', 'empty', 'shardgate']);

/** Does any statement change data (or might: DDL, utilities, unknown text, write functions)? */
export function writesData(statements: readonly PlannedStatement[]): boolean {
  return statements.some(mayWriteData);
}

/** One statement of writesData (compensate mode asks it of each statement). */
export function mayWriteData(s: {
  facts: { kind: string };
  plan: { type: string; write?: boolean };
}): boolean {
  return (s.plan.type === 'single' && s.plan.write === true) || !NON_WRITING_KINDS.has(s.facts.kind);
}

export function commitsTransaction(statements: readonly PlannedStatement[]): boolean {
  return statements.some((s) => s.facts.transaction?.action === 'commit');
}

/**
 * May a statement that failed with `err` run again on another server? Only a read outside a
 * transaction whose server died or refused it before any byte reached the client, within the
 * retry budget (routing.readRetriesOnServerLoss). Both protocols ask this.
 */
export function mayRetryRead(
  err: unknown,
  situation: {
    inTransaction: boolean;
    statements: readonly PlannedStatement[];
    attempt: number;
    maxRetries: number;
  },
): boolean {
  if (situation.attempt >= situation.maxRetries) return false;
  if (situation.inTransaction || writesData(situation.statements)) return false;
  if (err instanceof ServerLostError) return err.retryable;
  // Refused or timed out at connect: the statement never left shardgate.
  return err instanceof ShardgateError && err.code === 'BACKEND_UNAVAILABLE';
}

/**
 * Severity and message of a PostgreSQL ErrorResponse (fields from `bodyStart` to `end`), read only
 * for errors (never on the row path). Severity prefers the untranslated 'V' field.
 */
export function pgErrorSeverity(
  buf: Buffer,
  bodyStart: number,
  end: number,
): { severity: string; message: string } {
  let severity = '';
  let message = '';
  let pos = bodyStart;
  while (pos < end) {
    const field = buf[pos]!;
    if (field === 0) break;
    const zero = buf.indexOf(0, pos + 1);
    if (zero < 0 || zero >= end) break;
    const value = buf.toString('utf8', pos + 1, zero);
    if (field === 0x56 /* V */ || (field === 0x53 /* S */ && severity === '')) severity = value;
    else if (field === 0x4d /* M */) message = value;
    pos = zero + 1;
  }
  return { severity, message };
}
