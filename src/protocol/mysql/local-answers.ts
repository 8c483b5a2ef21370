// Replies shardgate gives itself on the MySQL side: SET/SHOW shardgate.* and SHARDGATE EXPLAIN,
// transaction control that touches no server yet (a deferred BEGIN, its COMMIT or ROLLBACK, a
// SET TRANSACTION kept for the next transaction), COM_SET_OPTION and COM_STATISTICS.
import { ShardgateError } from '../../errors.js';
import { renderPlan } from '../../router/plan.js';
import type { PlannedStatement } from '../../router/router.js';
import { applyContextSetting, contextSettingValue } from '../session-context.js';
import { textColumn } from './columns.js';
import type { CommandCycle } from './command-cycle.js';
import { STATUS } from './constants.js';
import type { LogicalPacket } from './packet-framer.js';
import { PacketReader } from './packet-io.js';
import { encodeResultEnd } from './responses.js';
import { localStatus } from './session-state.js';

/** SET/SHOW shardgate.*, SHARDGATE EXPLAIN, and transaction control that needs no server. */
export function answerLocally(
  cycle: CommandCycle,
  packet: LogicalPacket,
  statements: PlannedStatement[],
): boolean {
  const state = cycle.state;
  const local = statements.filter((s) => s.plan.type === 'local');
  if (local.length > 0 && local.length < statements.length) {
    throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail:
        'mixing SET/SHOW shardgate.* or SHARDGATE EXPLAIN with other statements in one query (send it alone)',
    });
  }
  if (local.length > 0) {
    const w = cycle.reply(packet);
    local.forEach((s, i) => {
      const more = i < local.length - 1 ? STATUS.MORE_RESULTS_EXISTS : 0;
      const plan = s.plan;
      if (plan.type !== 'local') return;
      const action = plan.action;
      if (action.kind === 'set-context') {
        applyContextSetting(state.context, action.name, action.value, cycle.services);
        w.ok(localStatus(state) | more);
      } else if (action.kind === 'show-context') {
        const value = contextSettingValue(state.context, action.name);
        w.resultSet(
          [textColumn(`shardgate.${action.name}`)],
          [[Buffer.from(value)]],
          localStatus(state) | more,
        );
      } else if (action.kind === 'clear-cache') {
        // The result cache serves the PostgreSQL side only: nothing to clear here.
        w.ok(localStatus(state) | more);
      } else {
        w.resultSet(
          [textColumn('plan', 65535)],
          [[Buffer.from(renderPlan(action.plan))]],
          localStatus(state) | more,
        );
      }
    });
    cycle.session.write(w.bytes());
    return true;
  }
  const only = statements.length === 1 ? statements[0]! : null;
  const set = only?.facts.session;
  if (
    set?.action === 'set' &&
    set.name === 'transaction' &&
    set.local &&
    !state.inTransaction &&
    !state.deferredBegin
  ) {
    // Applies to the next transaction only, which may run on another connection: keep it.
    state.nextTransaction = only!.sql;
    cycle.session.write(cycle.reply(packet).ok(localStatus(state)).bytes());
    return true;
  }
  const txn = only?.facts.kind === 'transaction' ? only.facts.transaction : null;
  if (!txn || cycle.bindings.size > 0) return false;
  if (txn.action === 'begin' && !state.inTransaction) {
    // Deferred: the transaction starts on the server its first statement needs.
    state.deferredBegin = only!.sql;
    state.transactionReadOnly = txn.readOnly;
  } else if ((txn.action === 'commit' || txn.action === 'rollback') && !state.inTransaction) {
    state.deferredBegin = null;
    state.transactionReadOnly = false;
  } else {
    return false;
  }
  cycle.session.write(cycle.reply(packet).ok(localStatus(state)).bytes());
  return true;
}

/** COM_SET_OPTION: multi-statements on or off; the reply is an EOF (or its OK form). */
export function setOption(cycle: CommandCycle, packet: LogicalPacket): void {
  const option = new PacketReader(packet.payload, 1).u16('the option');
  if (option !== 0 && option !== 1) {
    throw new ShardgateError('UNKNOWN_COMMAND', { detail: `COM_SET_OPTION ${option}` });
  }
  cycle.state.multiStatements = option === 0;
  const w = cycle.reply(packet);
  cycle.session.write(
    w.packet(encodeResultEnd(localStatus(cycle.state), 0, cycle.state.capabilities)).bytes(),
  );
}

/** COM_STATISTICS (the CLI's `status`): one line of text, as a server gives it. */
export function statistics(cycle: CommandCycle, packet: LogicalPacket): void {
  const uptime = Math.floor(process.uptime());
  const threads = cycle.services.sessions.size;
  const text = `Uptime: ${uptime}  Threads: ${threads}  Questions: ${cycle.state.questions}  Slow queries: 0  Opens: 0  Open tables: 0  Queries per second avg: 0.000`;
  cycle.session.write(cycle.reply(packet).packet(Buffer.from(text)).bytes());
}
