// Session state a client can change on a server connection without a SET the proxy sees: DO
// blocks, CALL and user functions (set_config(..., false) inside them), and settings the server
// reports in ParameterStatus. Transaction pooling must not hand such state to the next client:
// reported settings are tracked like a SET (they follow the client, the next client gets them
// reset); statements that may change unreported state mark the connection dirty (reset on release).
import type { PgServerConnection } from '../../backend/pg-server-connection.js';
import type { StatementFacts } from '../../sql/facts.js';

/** Reported settings a client can change; they are replayed and reset like a SET. */
const TRACKED_REPORTED = new Set([
  'application_name',
  'client_encoding',
  'datestyle',
  'default_transaction_read_only',
  'intervalstyle',
  'search_path',
  'standard_conforming_strings',
  'timezone',
]);
/** Reported values that change with the session's identity: never replayed, always reset. */
const IDENTITY_REPORTED = new Set(['session_authorization', 'is_superuser', 'role']);

/** Names of the functions in pg_catalog (built-ins), loaded once per process from a server. */
let builtins: Set<string> | null = null;

export function builtinFunctionsLoaded(): boolean {
  return builtins !== null;
}

export async function loadBuiltinFunctions(conn: PgServerConnection): Promise<void> {
  if (builtins) return;
  const r = await conn.query(
    "SELECT DISTINCT proname FROM pg_catalog.pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace",
  );
  if (r.error) throw new Error(`cannot list built-in functions: ${r.error.message}`);
  builtins = new Set(r.rows.map((row) => row[0]!));
}

/**
 * DO, CALL or a function outside pg_catalog: may run set_config(..., false) and the like. Before
 * the built-ins are known any function may be a user's: the first units of a process are judged
 * (pipelineable()) before a server connection has loaded them.
 */
export function mayChangeUnseenState(statements: ReadonlyArray<{ facts: StatementFacts }>): boolean {
  for (const { facts } of statements) {
    if (facts.utility === 'do' || facts.utility === 'call') return true;
    if (facts.kind === 'unknown') continue;
    for (const f of facts.functions) if (builtins === null || !builtins.has(f)) return true;
  }
  return false;
}

export type ReportedChange = { kind: 'setting'; name: string; value: string } | { kind: 'identity' } | null;

/** Reads a ParameterStatus body: what it means for the session's tracked state. */
export function reportedChange(buf: Buffer, bodyStart: number, end: number): ReportedChange {
  const nameEnd = buf.indexOf(0, bodyStart);
  if (nameEnd < 0 || nameEnd >= end) return null;
  const valueEnd = buf.indexOf(0, nameEnd + 1);
  if (valueEnd < 0 || valueEnd >= end) return null;
  const name = buf.toString('utf8', bodyStart, nameEnd).toLowerCase();
  if (IDENTITY_REPORTED.has(name)) return { kind: 'identity' };
  if (!TRACKED_REPORTED.has(name)) return null;
  return { kind: 'setting', name, value: buf.toString('utf8', nameEnd + 1, valueEnd) };
}
