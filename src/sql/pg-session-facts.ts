// Transaction control and session settings: BEGIN/COMMIT/SAVEPOINT..., SET/RESET/SHOW/DISCARD,
// and the `shardgate.*` settings the proxy answers itself.
//
// SET ROLE and SET SESSION AUTHORIZATION are plain settings here ('role',
// 'session_authorization'): the session machine tracks and replays them like any SET, so they
// do not pin the server connection. SET LOCAL and SET TRANSACTION last one transaction (local).
import { emptyStatementFacts, type StatementFacts, type TransactionAction } from './facts.js';
import { constText, isType, list, type Node } from './pg-ast.js';

const TXN_ACTIONS: Record<string, TransactionAction> = {
  TRANS_STMT_BEGIN: 'begin',
  TRANS_STMT_START: 'begin',
  TRANS_STMT_COMMIT: 'commit',
  TRANS_STMT_ROLLBACK: 'rollback',
  TRANS_STMT_SAVEPOINT: 'savepoint',
  TRANS_STMT_RELEASE: 'release',
  TRANS_STMT_ROLLBACK_TO: 'rollback_to',
  TRANS_STMT_PREPARE: 'prepare',
  TRANS_STMT_COMMIT_PREPARED: 'commit_prepared',
  TRANS_STMT_ROLLBACK_PREPARED: 'rollback_prepared',
};

/** Settings whose value is a list of names: elements needing quotes keep them (as PostgreSQL does). */
const LIST_SETTINGS = new Set([
  'search_path',
  'temp_tablespaces',
  'session_preload_libraries',
  'local_preload_libraries',
]);

export function transactionFacts(body: Node): StatementFacts {
  const facts = emptyStatementFacts('transaction');
  const action = TXN_ACTIONS[String(body.kind)] ?? 'begin';
  let readOnly = false;
  for (const o of list(body.options)) {
    const d = isType(o, 'DefElem');
    if (d?.defname === 'transaction_read_only') readOnly = constText(d.arg) === '1';
  }
  facts.transaction = { action, readOnly };
  if (action === 'savepoint' || action === 'rollback_to' || action === 'release')
    facts.transaction.savepoint = typeof body.savepoint_name === 'string' ? body.savepoint_name : null;
  return facts;
}

function quoteIfNeeded(v: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(v) ? v : `"${v.replaceAll('"', '""')}"`;
}

function settingValue(name: string, args: unknown[]): string {
  const parts = args.map((a) => constText(a) ?? '');
  if (parts.length > 1 || LIST_SETTINGS.has(name)) return parts.map(quoteIfNeeded).join(', ');
  return parts.join(', ');
}

export function setFacts(body: Node): StatementFacts {
  const name = (typeof body.name === 'string' ? body.name : '').toLowerCase();
  const kind = String(body.kind);
  const local = Boolean(body.is_local);
  const isReset = kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT';
  if (name.startsWith('shardgate.')) {
    const facts = emptyStatementFacts('shardgate');
    const short = name.slice('shardgate.'.length);
    facts.shardgate = isReset
      ? { command: 'reset', name: short }
      : { command: 'set', name: short, value: body.args ? settingValue(short, list(body.args)) : null };
    return facts;
  }
  const facts = emptyStatementFacts('session');
  if (kind === 'VAR_SET_MULTI') {
    // SET TRANSACTION / SET SESSION CHARACTERISTICS AS TRANSACTION: this transaction only.
    facts.session = { action: 'set', name, value: null, local: true };
    // ...except SESSION CHARACTERISTICS, a session default the proxy cannot replay: pin.
    if (name === 'session characteristics') facts.pinsSession = true;
  } else if (kind === 'VAR_RESET_ALL') {
    facts.session = { action: 'reset', name: 'all', value: null, local: false };
  } else if (isReset) {
    facts.session = { action: 'reset', name, value: null, local };
  } else if (kind === 'VAR_SET_CURRENT') {
    // SET x FROM CURRENT keeps the current value: nothing to track.
    facts.session = { action: 'set', name, value: null, local: true };
  } else {
    facts.session = { action: 'set', name, value: settingValue(name, list(body.args)), local };
  }
  return facts;
}

export function showFacts(body: Node): StatementFacts {
  const name = (typeof body.name === 'string' ? body.name : '').toLowerCase();
  if (name.startsWith('shardgate.')) {
    const facts = emptyStatementFacts('shardgate');
    facts.shardgate = { command: 'show', name: name.slice('shardgate.'.length) };
    return facts;
  }
  const facts = emptyStatementFacts('session');
  facts.session = { action: 'show', name, value: null, local: false };
  return facts;
}

const DISCARD: Record<string, string> = {
  DISCARD_ALL: 'all',
  DISCARD_PLANS: 'plans',
  DISCARD_TEMP: 'temp',
  DISCARD_SEQUENCES: 'sequences',
};

export function discardFacts(body: Node): StatementFacts {
  const facts = emptyStatementFacts('session');
  facts.session = {
    action: 'discard',
    name: DISCARD[String(body.target)] ?? 'all',
    value: null,
    local: false,
  };
  return facts;
}
