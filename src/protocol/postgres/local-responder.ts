// Answers a unit without a server: shardgate's own statements (SET/SHOW shardgate.*, SHARDGATE
// EXPLAIN), a BEGIN deferred until the transaction's first statement picks its shard, and errors.
// In the extended protocol every message gets the reply a server would send, in order.
import { ShardgateError } from '../../errors.js';
import { renderPlan } from '../../router/plan.js';
import { applyContextSetting, contextSettingValue } from '../session-context.js';
import {
  type ErrorFields,
  encodeCommandComplete,
  encodeDataRow,
  encodeErrorResponse,
  encodeParameterDescription,
  encodeReadyForQuery,
  encodeTextRowDescription,
  NO_DATA,
} from './backend-messages.js';
import type { PgClientSession } from './client-session.js';
import { answerFrames } from './proxy-answered-frames.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';
import type { Unit } from './units.js';

interface LocalResult {
  columns: string[] | null;
  rows: string[][];
  tag: string;
}

export class LocalResponder {
  constructor(
    private readonly session: PgClientSession,
    private readonly unit: Unit,
  ) {}

  /** Returns true when the unit was answered here. */
  async tryAnswerLocally(statements: PlannedStatement[], cycle: QueryCycle): Promise<boolean> {
    const state = cycle.state;
    const results: LocalResult[] = [];
    const onlyTransactionControl = statements.length === 1 && statements[0]!.facts.kind === 'transaction';
    const noServer = cycle.bindings.size === 0;
    // A transaction failed by shardgate itself (the server never saw the error).
    if (state.txStatus === 'E' && state.proxyAborted) {
      const action = onlyTransactionControl ? statements[0]!.facts.transaction!.action : null;
      if (action === 'commit' || action === 'rollback') {
        for (const b of cycle.bindings.values()) await b.conn.exec('ROLLBACK').catch(() => undefined);
        state.txStatus = 'I';
        state.proxyAborted = false;
        state.deferredBegin = null;
        cycle.releaseAll();
        this.reply([{ columns: null, rows: [], tag: 'ROLLBACK' }], 'I', cycle);
        return true;
      }
      // ROLLBACK TO may clear the failure, unless the transaction lost a participant (savepoints.ts).
      if (action !== 'rollback_to' || !cycle.savepoints.known) {
        this.fail(new ShardgateError('TRANSACTION_ABORTED'), 'E');
        return true;
      }
    }
    const localCount = statements.filter((s) => s.plan.type === 'local').length;
    if (localCount > 0 && localCount < statements.length) {
      throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
        detail:
          'mixing SET/SHOW shardgate.* or SHARDGATE EXPLAIN with other statements in one message (send it alone)',
      });
    }
    for (const s of statements) {
      const plan = s.plan;
      if (plan.type === 'local') {
        const action = plan.action;
        if (action.kind === 'set-context') {
          applyContextSetting(state.context, action.name, action.value, cycle.services);
          results.push({ columns: null, rows: [], tag: action.value === null ? 'RESET' : 'SET' });
        } else if (action.kind === 'show-context') {
          results.push({
            columns: [`shardgate.${action.name}`],
            rows: [[contextSettingValue(state.context, action.name)]],
            tag: 'SHOW',
          });
        } else if (action.kind === 'clear-cache') {
          const cleared = cycle.services.resultCache?.store.clear() ?? 0;
          results.push({ columns: ['cleared'], rows: [[String(cleared)]], tag: 'SHARDGATE CLEAR CACHE' });
        } else {
          results.push({
            columns: ['plan'],
            rows: [[renderPlan(action.plan)]],
            tag: 'SHARDGATE EXPLAIN',
          });
        }
        continue;
      }
      const txn = s.facts.transaction;
      if (onlyTransactionControl && txn && noServer) {
        if (txn.action === 'begin' && state.txStatus === 'I') {
          state.deferredBegin = s.sql;
          state.transactionReadOnly = txn.readOnly;
          results.push({ columns: null, rows: [], tag: 'BEGIN' });
          this.reply(results, 'T', cycle);
          state.txStatus = 'T';
          return true;
        }
        if ((txn.action === 'commit' || txn.action === 'rollback') && state.deferredBegin) {
          state.deferredBegin = null;
          state.txStatus = 'I';
          state.transactionReadOnly = false;
          results.push({ columns: null, rows: [], tag: txn.action === 'commit' ? 'COMMIT' : 'ROLLBACK' });
          this.reply(results, 'I', cycle);
          return true;
        }
      }
      return false;
    }
    this.reply(results, state.txStatus, cycle);
    return true;
  }

  /** Answers the unit with one CommandComplete (the transaction ended: ReadyForQuery 'I'). */
  complete(tag: string, cycle: QueryCycle): void {
    this.reply([{ columns: null, rows: [], tag }], 'I', cycle);
  }

  /** Answers the unit with one CommandComplete; the transaction goes on (`status`). */
  completeIn(tag: string, status: 'T' | 'E', cycle: QueryCycle): void {
    this.reply([{ columns: null, rows: [], tag }], status, cycle);
  }

  private reply(results: LocalResult[], status: 'I' | 'T' | 'E', cycle: QueryCycle): void {
    const out: Buffer[] = [];
    if (this.unit.simple) {
      for (const r of results) pushResult(out, r, true);
      out.push(encodeReadyForQuery(status));
      this.session.write(Buffer.concat(out));
      return;
    }
    let i = 0;
    const current = () =>
      results[Math.min(i, results.length - 1)] ?? { columns: null, rows: [], tag: 'SELECT 0' };
    answerFrames(cycle, this.unit.frames, out, {
      describe: (into, statement) => {
        const r = current();
        if (statement) into.push(encodeParameterDescription([]));
        into.push(r.columns ? encodeTextRowDescription(r.columns) : NO_DATA);
      },
      execute: (into) => {
        pushResult(into, current(), false);
        i++;
      },
      status,
    });
    this.session.write(Buffer.concat(out));
  }

  /** Reports an error (shardgate's, or a server's own) for the whole unit in the form its protocol expects. */
  fail(err: ShardgateError | ErrorFields, txStatus: 'I' | 'T' | 'E'): void {
    const state = this.session.state;
    const status = txStatus === 'I' ? 'I' : 'E';
    if (state && status === 'E') {
      state.txStatus = 'E';
      state.proxyAborted = true;
    }
    const out: Buffer[] = [encodeErrorResponse(err)];
    // Extended protocol: the server would skip to Sync; a Flush-only unit gets no ReadyForQuery.
    if (this.unit.simple || !this.unit.flushOnly) out.push(encodeReadyForQuery(status));
    this.session.write(Buffer.concat(out));
  }
}

function pushResult(out: Buffer[], r: LocalResult, withDescription: boolean): void {
  if (r.columns && withDescription) out.push(encodeTextRowDescription(r.columns));
  for (const row of r.rows) out.push(encodeDataRow(row));
  out.push(encodeCommandComplete(r.tag));
}
