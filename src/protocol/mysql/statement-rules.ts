// Per-statement rules of the MySQL command cycle: which server a multi-statement query runs on,
// whether a statement really pins the session's connection, and what SET NAMES leaves that
// session tracking does not report.

import { ShardgateError } from '../../errors.js';
import type { RouteTarget } from '../../router/plan.js';
import type { PlannedStatement } from '../../router/router.js';
import type { MysqlBinding } from './server-binding.js';
import type { MysqlSessionState } from './session-state.js';

/** Statement kinds that follow the statements touching data ("BEGIN; UPDATE ..."). */
const FOLLOWER_KINDS = new Set(['transaction', 'session', 'empty']);

/**
 * SET NAMES x COLLATE y: MariaDB's session tracking reports the character sets but not
 * collation_connection, so it is recorded from the statement.
 */
export function noteCollation(s: PlannedStatement, state: MysqlSessionState, binding: MysqlBinding): void {
  const f = s.facts.session;
  if (f?.action !== 'set' || f.name !== 'names' || !f.value) return;
  const m = /\bcollate\s+['"`]?([A-Za-z0-9_]+)/i.exec(f.value);
  if (!m) return;
  const collation = m[1]!.toLowerCase();
  state.vars.set('collation_connection', collation);
  binding.conn.vars.set('collation_connection', collation);
}

/** A user variable (`@x`, not `@@x`) outside quotes and identifiers. */
const USER_VARIABLE = /(^|[^@\w`'"])@(?!@)[\w`'"$]/;

/**
 * Whether a statement the analyzer marks as pinning really must pin. SET of system variables
 * (autocommit=0, several assignments) need not: session tracking reports each new value and it
 * is replayed; user variables in a SET are caught here and by tracking's state-change flag.
 * Everything else the analyzer marks (GET_LOCK, LAST_INSERT_ID, LOCK TABLES, temporary tables,
 * XA, user variables in SELECT) pins, as ProxySQL's multiplexing rules do.
 */
export function pins(s: PlannedStatement): boolean {
  if (s.facts.kind !== 'session') return true;
  return USER_VARIABLE.test(s.sql);
}

/**
 * All single-target statements of a query must agree on one server. `crossShard`: the
 * transaction may span shards, one query at a time (CROSS_SHARD_UNIT names that rule).
 */
export function chooseTarget(statements: PlannedStatement[], crossShard = false): RouteTarget {
  let target: RouteTarget | null = null;
  const leaders = statements.filter((s) => !FOLLOWER_KINDS.has(s.facts.kind));
  for (const s of leaders.length ? leaders : statements) {
    if (s.plan.type !== 'single') continue;
    const t = s.plan.target;
    if (!target) {
      target = t;
      continue;
    }
    if (t.shard !== target.shard) {
      throw new ShardgateError(crossShard ? 'CROSS_SHARD_UNIT' : 'CROSS_SHARD_TRANSACTION', {
        first: target.shard,
        second: t.shard,
      });
    }
    if (t.role === 'primary' && target.role !== 'primary') target = t;
  }
  if (!target) throw new ShardgateError('INTERNAL', { detail: 'no target for the query' });
  return target;
}
