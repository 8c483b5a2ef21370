// Transaction control, SET / SHOW / USE and the proxy's own SHARDGATE statements, read from
// tokens (node-sql-parser's MySQL grammar rejects many of them: SET NAMES, SAVEPOINT, XA, SHOW
// WARNINGS ...). What pins the server connection follows ProxySQL's multiplexing rules:
// user variables, XA, autocommit=0, and SET values the proxy cannot replay (expressions,
// several assignments) pin; plain system variables, NAMES, CHARACTER SET and SESSION
// TRANSACTION are tracked as session settings.
//
// SessionFacts.value for MySQL is the value as SQL text that re-sends it: strings keep their
// quotes ('STRICT_TRANS_TABLES'), numbers and words are bare (1, ON, NULL), NAMES may carry its
// COLLATE; USE gives { name: 'database', value: the bare database name }.
import { emptyStatementFacts, type StatementFacts, type TransactionAction } from '../facts.js';
import type { Literal } from '../fingerprint.js';
import type { Token } from './fingerprint-mysql.js';
import { T } from './mysql-lexer.js';
import { isWord, readName, wordAt } from './mysql-tokens.js';

function transaction(action: TransactionAction, readOnly = false): StatementFacts {
  const f = emptyStatementFacts('transaction');
  f.transaction = { action, readOnly };
  return f;
}

function utility(pins = false): StatementFacts {
  const f = emptyStatementFacts('utility');
  f.utility = 'other';
  f.pinsSession = pins;
  return f;
}

function startFacts(toks: readonly Token[]): StatementFacts {
  if (!isWord(toks[1], 'transaction')) return utility(); // START SLAVE / REPLICA / GROUP_REPLICATION
  let readOnly = false;
  for (let i = 2; i < toks.length; i++) {
    if (isWord(toks[i], 'read')) readOnly = isWord(toks[i + 1], 'only');
  }
  return transaction('begin', readOnly);
}

/** ROLLBACK [WORK] [TO [SAVEPOINT] x] [AND [NO] CHAIN] [[NO] RELEASE] */
function rollbackFacts(sql: string, toks: readonly Token[]): StatementFacts {
  const to = toks.findIndex((t) => isWord(t, 'to'));
  if (to < 0) return transaction('rollback');
  const at = isWord(toks[to + 1], 'savepoint') && toks.length > to + 2 ? to + 2 : to + 1;
  return savepointFacts('rollback_to', sql, toks, at);
}

/** SAVEPOINT x, ROLLBACK TO x, RELEASE SAVEPOINT x: the name as written (MySQL compares it case-insensitively). */
function savepointFacts(
  action: TransactionAction,
  sql: string,
  toks: readonly Token[],
  at: number,
): StatementFacts {
  const f = transaction(action);
  const t = toks[at];
  const named = t !== undefined && toks.length === at + 1 && (t.type === T.WORD || t.type === T.QIDENT);
  f.transaction!.savepoint = named ? (t.type === T.QIDENT ? t.text : sql.slice(t.start, t.end)) : null;
  return f;
}

/** XA START|BEGIN / END / PREPARE / COMMIT / ROLLBACK / RECOVER: the connection is pinned. */
function xaFacts(toks: readonly Token[]): StatementFacts {
  const verb = wordAt(toks, 1);
  const actions: Record<string, TransactionAction> = {
    start: 'begin',
    begin: 'begin',
    prepare: 'prepare',
    commit: 'commit_prepared',
    rollback: 'rollback_prepared',
  };
  const action = actions[verb];
  const f = action ? transaction(action) : utility();
  f.pinsSession = true;
  return f;
}

function session(action: 'set' | 'reset' | 'show', name: string, value: string | null, local = false) {
  const f = emptyStatementFacts('session');
  f.session = { action, name, value, local };
  return f;
}

interface Assignment {
  scope: 'session' | 'global' | 'user';
  name: string;
  /** Value tokens [from, to). */
  from: number;
  to: number;
}

const SCOPES: Record<string, 'session' | 'global'> = {
  session: 'session',
  local: 'session',
  global: 'global',
  persist: 'global',
  persist_only: 'global',
};

/** Splits `SET a = 1, @@session.b = 'x', @c := 2` at top-level commas. */
function assignments(toks: readonly Token[], from: number): Assignment[] | null {
  const out: Assignment[] = [];
  let i = from;
  while (i < toks.length) {
    let scope: Assignment['scope'] = 'session';
    let name: string;
    const t = toks[i]!;
    if (t.type === T.WORD && SCOPES[t.text] && toks[i + 1]?.type !== T.OP) {
      scope = SCOPES[t.text]!;
      i++;
    }
    const n = toks[i];
    if (n?.type === T.USERVAR) {
      scope = 'user';
      const raw = n.text.slice(1);
      const q = raw.charCodeAt(0);
      name = `@${q === 39 || q === 34 || q === 96 ? raw.slice(1, -1) : raw}`;
      i++;
    } else if (n?.type === T.SYSVAR) {
      const parts = n.text.slice(2).split('.');
      const first = parts[0] ?? '';
      if (parts.length > 1 && SCOPES[first]) scope = SCOPES[first]!;
      name = (parts.length > 1 && SCOPES[first] ? parts.slice(1) : parts).join('.');
      i++;
      // @@session.`name` or @@`name`: the name follows as its own token.
      if (name === '' || name.endsWith('.')) {
        const rest = readName(toks, i + (toks[i]?.type === T.DOT ? 1 : 0));
        if (!rest) return null;
        name += rest.name;
        i = rest.end;
      }
    } else {
      const r = readName(toks, i);
      if (!r) return null;
      name = r.qualifier ? `${r.qualifier}.${r.name}` : r.name;
      i = r.end;
    }
    const op = toks[i];
    if (op?.type !== T.OP || (op.text !== '=' && op.text !== ':=')) return null;
    const start = ++i;
    let depth = 0;
    while (i < toks.length) {
      const c = toks[i]!.type;
      if (c === T.LPAREN) depth++;
      else if (c === T.RPAREN) depth--;
      else if (c === T.COMMA && depth === 0) break;
      i++;
    }
    if (i === start) return null;
    out.push({ scope, name: name.toLowerCase(), from: start, to: i });
    i++;
  }
  return out;
}

/** A value the proxy can replay: one literal, one word, `-number`. */
function simpleValue(toks: readonly Token[], a: Assignment): boolean {
  const n = a.to - a.from;
  const t = toks[a.from]!;
  if (n === 1) return t.literal >= 0 || t.type === T.WORD || t.type === T.QIDENT;
  return n === 2 && t.type === T.OP && t.text === '-' && toks[a.from + 1]!.type === T.NUMBER;
}

function shardgateValue(sql: string, toks: readonly Token[], a: Assignment, literals: readonly Literal[]) {
  const t = toks[a.from]!;
  if (a.to - a.from === 1 && t.literal >= 0) return literals[t.literal]?.value ?? null;
  return sql.slice(t.start, toks[a.to - 1]!.end);
}

function setFacts(sql: string, toks: readonly Token[], literals: readonly Literal[]): StatementFacts {
  const second = wordAt(toks, 1);
  const third = wordAt(toks, 2);
  const text = (from: number) =>
    from < toks.length ? sql.slice(toks[from]!.start, toks[toks.length - 1]!.end) : '';
  if (second === 'names' || second === 'charset' || (second === 'character' && third === 'set')) {
    const at = second === 'character' ? 3 : 2;
    const name = second === 'names' ? 'names' : 'character set';
    if (isWord(toks[at], 'default') && at === toks.length - 1) return session('reset', name, null);
    return session('set', name, text(at));
  }
  if (second === 'transaction' || (SCOPES[second] && third === 'transaction')) {
    if (SCOPES[second] === 'global') return utility();
    // Without a scope: the next transaction only.
    const local = second === 'transaction';
    return session('set', 'transaction', text(local ? 2 : 3), local);
  }
  if (second === 'password' || second === 'default' || second === 'statement') return utility();
  if (second === 'role') return utility(true);
  const list = assignments(toks, 1);
  if (!list || list.length === 0) return utility(true);
  const first = list[0]!;
  if (list.length === 1 && first.scope === 'session' && first.name.startsWith('shardgate.')) {
    const f = emptyStatementFacts('shardgate');
    const short = first.name.slice('shardgate.'.length);
    const value = shardgateValue(sql, toks, first, literals);
    f.shardgate =
      value === null || value.toLowerCase() === 'default'
        ? { command: 'reset', name: short }
        : { command: 'set', name: short, value };
    return f;
  }
  if (list.some((a) => a.scope === 'global')) return utility();
  const valueText = sql.slice(toks[first.from]!.start, toks[first.to - 1]!.end);
  if (list.length > 1 || !list.every((a) => simpleValue(toks, a))) {
    // Expressions or several assignments: the proxy cannot replay them one by one.
    const f = session('set', first.name, null);
    f.pinsSession = true;
    return f;
  }
  if (first.scope === 'user') {
    const f = session('set', first.name, valueText);
    f.pinsSession = true;
    return f;
  }
  if (valueText.toLowerCase() === 'default') return session('reset', first.name, null);
  const f = session('set', first.name, valueText);
  if (first.name === 'autocommit' && /^(0|off|'off'|'0'|false)$/i.test(valueText)) f.pinsSession = true;
  return f;
}

const SHOW_MODIFIERS = new Set(['global', 'session', 'local', 'full', 'extended', 'storage']);
const SHOW_ENDERS = new Set(['like', 'where', 'from', 'in', 'limit', 'for']);

function showFacts(toks: readonly Token[]): StatementFacts {
  if (isWord(toks[1], 'shardgate') && toks[2]?.type === T.DOT) {
    const r = readName(toks, 3);
    const f = emptyStatementFacts('shardgate');
    f.shardgate = { command: 'show', name: r?.name ?? '' };
    return f;
  }
  const words: string[] = [];
  let i = 1;
  for (; i < toks.length; i++) {
    const w = wordAt(toks, i);
    // SHOW CREATE TABLE t: the object's name is not part of the command's name.
    if (!w || SHOW_ENDERS.has(w) || (words[0] === 'create' && words.length === 2)) break;
    if (!(words.length === 0 && SHOW_MODIFIERS.has(w))) words.push(w);
  }
  const f = session('show', words.join(' '), null);
  // SHOW COLUMNS FROM t, SHOW INDEX FROM t, SHOW CREATE TABLE t
  const at = isWord(toks[i], 'from') || isWord(toks[i], 'in') ? i + 1 : words[0] === 'create' ? i : -1;
  const r = at > 0 ? readName(toks, at) : null;
  if (r && (words[0] !== 'create' || words[1] === 'table')) f.tables = [r.name];
  return f;
}

/** SHARDGATE SET x = v | SHOW x | RESET x (EXPLAIN is handled before the cache). */
function shardgateFacts(sql: string, toks: readonly Token[], literals: readonly Literal[]): StatementFacts {
  const verb = wordAt(toks, 1);
  const f = emptyStatementFacts('shardgate');
  const r = readName(toks, 2);
  const name = r
    ? r.qualifier === 'shardgate' || r.qualifier === null
      ? r.name
      : `${r.qualifier}.${r.name}`
    : '';
  if (verb === 'show') f.shardgate = { command: 'show', name };
  else if (verb === 'reset') f.shardgate = { command: 'reset', name };
  else if (verb === 'set' && r) {
    const op = toks[r.end];
    const from = op?.type === T.OP && (op.text === '=' || op.text === ':=') ? r.end + 1 : r.end;
    const v = toks[from];
    const value =
      v === undefined
        ? null
        : v.literal >= 0
          ? (literals[v.literal]?.value ?? null)
          : sql.slice(v.start, toks[toks.length - 1]!.end);
    f.shardgate = value === null ? { command: 'reset', name } : { command: 'set', name, value };
  } else {
    f.kind = 'unknown';
    f.parseError =
      'expected SHARDGATE EXPLAIN <statement>, SHARDGATE SET name = value, SHARDGATE SHOW name or SHARDGATE RESET name';
  }
  return f;
}

/** Facts of transaction, session and SHARDGATE statements; null for anything else. */
export function sessionStatementFacts(
  sql: string,
  toks: readonly Token[],
  literals: readonly Literal[],
): StatementFacts | null {
  switch (wordAt(toks, 0)) {
    case 'begin':
      if (isWord(toks[1], 'not')) return null; // BEGIN NOT ATOMIC ... END: a compound statement
      return transaction('begin');
    case 'start':
      return startFacts(toks);
    case 'commit':
      return transaction('commit');
    case 'rollback':
      return rollbackFacts(sql, toks);
    case 'savepoint':
      return savepointFacts('savepoint', sql, toks, 1);
    case 'release':
      return isWord(toks[1], 'savepoint') ? savepointFacts('release', sql, toks, 2) : null;
    case 'xa':
      return xaFacts(toks);
    case 'set':
      return setFacts(sql, toks, literals);
    case 'show':
      return showFacts(toks);
    case 'use': {
      const t = toks[1];
      if (!t || (t.type !== T.WORD && t.type !== T.QIDENT)) return null;
      return session('set', 'database', t.type === T.QIDENT ? t.text : sql.slice(t.start, t.end));
    }
    case 'shardgate':
      return shardgateFacts(sql, toks, literals);
    default:
      return null;
  }
}
