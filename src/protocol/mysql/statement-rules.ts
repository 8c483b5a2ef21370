// Per-statement rules of the MySQL command cycle (the server a query runs on: src/router/unit-target.ts):
// whether a statement really pins the session's connection, and what SET NAMES leaves that
// session tracking does not report.

import type { PlannedStatement } from '../../router/router.js';
import type { MysqlBinding } from './server-binding.js';
import type { MysqlSessionState } from './session-state.js';

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
