// Token-level readers shared by the statements analyzed without node-sql-parser (transaction,
// session, DDL, utility) and by the fallback classifier: names, table lists, and simple
// top-level WHERE conditions. All of them are total: odd input gives "nothing found".
import type { KeyCondition, ValueRef } from '../facts.js';
import type { Token } from './fingerprint-mysql.js';
import { T } from './mysql-lexer.js';

export const isWord = (t: Token | undefined, w: string): boolean =>
  t !== undefined && t.type === T.WORD && t.text === w;

export const wordAt = (toks: readonly Token[], i: number): string => {
  const t = toks[i];
  return t !== undefined && t.type === T.WORD ? t.text : '';
};

/** Index just past the first of `words` outside parentheses, or -1 if none is there. */
export function afterTopLevelWord(toks: readonly Token[], ...words: string[]): number {
  let depth = 0;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type === T.LPAREN) depth++;
    else if (t.type === T.RPAREN) depth--;
    else if (depth === 0 && t.type === T.WORD && words.includes(t.text)) return i + 1;
  }
  return -1;
}

const isNamePart = (t: Token | undefined) => t !== undefined && (t.type === T.WORD || t.type === T.QIDENT);

export interface Name {
  /** Last part, lower-cased (schema dropped). */
  name: string;
  /** Qualifier before the last part (schema or table alias), lower-cased, or null. */
  qualifier: string | null;
  /** Token index just past the name. */
  end: number;
}

/** `a`, `` `a` ``, `db.a`, `db`.`a`: the name at i, or null. */
export function readName(toks: readonly Token[], i: number): Name | null {
  if (!isNamePart(toks[i])) return null;
  const parts = [toks[i]!.text.toLowerCase()];
  let j = i + 1;
  while (toks[j]?.type === T.DOT && isNamePart(toks[j + 1])) {
    parts.push(toks[j + 1]!.text.toLowerCase());
    j += 2;
  }
  return {
    name: parts[parts.length - 1]!,
    qualifier: parts.length > 1 ? parts[parts.length - 2]! : null,
    end: j,
  };
}

/** Words that end a table reference list (they are never table aliases). */
const CLAUSE_WORDS = new Set([
  'where',
  'group',
  'having',
  'order',
  'limit',
  'for',
  'lock',
  'into',
  'union',
  'on',
  'using',
  'join',
  'inner',
  'left',
  'right',
  'cross',
  'natural',
  'straight_join',
  'set',
  'values',
  'value',
  'select',
  'window',
  'partition',
  'use',
  'force',
  'ignore',
  'returning',
  'procedure',
  'from',
  'as',
]);

/** Words that follow FROM / INTO / JOIN without naming a table. */
const NOT_TABLES = new Set([...CLAUSE_WORDS, 'dual', 'outfile', 'dumpfile', 'lateral']);

const UPDATE_MODIFIERS = new Set(['low_priority', 'ignore']);

/** Index past an optional alias (`[AS] alias`) at i. */
export function skipAlias(toks: readonly Token[], i: number): { alias: string | null; end: number } {
  let j = i;
  if (isWord(toks[j], 'as')) j++;
  const t = toks[j];
  if (t && (t.type === T.QIDENT || (t.type === T.WORD && !CLAUSE_WORDS.has(t.text)))) {
    return { alias: t.text.toLowerCase(), end: j + 1 };
  }
  if (t?.type === T.STRING && j > i) return { alias: null, end: j + 1 };
  return { alias: null, end: i };
}

export interface TableRef {
  name: string;
  alias: string | null;
}

/**
 * Real tables named after FROM, JOIN, UPDATE, INTO and comma-separated FROM lists, in a SELECT
 * context at each parenthesis depth (so EXTRACT(x FROM d) and TRIM(... FROM s) are not tables).
 */
export function scanTables(toks: readonly Token[]): TableRef[] {
  const out: TableRef[] = [];
  const selectAt: boolean[] = [true];
  const firstWord = toks.findIndex((t) => t.type === T.WORD);
  let listOpen = false;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type === T.LPAREN) {
      const w = wordAt(toks, i + 1);
      selectAt.push(w === 'select' || w === 'with');
      listOpen = false;
      continue;
    }
    if (t.type === T.RPAREN) {
      if (selectAt.length > 1) selectAt.pop();
      listOpen = false;
      continue;
    }
    if (!selectAt[selectAt.length - 1]) continue;
    const w = t.type === T.WORD ? t.text : '';
    // UPDATE and TABLE name tables only as the statement's first word (not FOR UPDATE, KEY UPDATE).
    const starts =
      w === 'from' ||
      w === 'join' ||
      w === 'straight_join' ||
      w === 'into' ||
      ((w === 'update' || w === 'table') && i === firstWord);
    if (!starts && !(listOpen && t.type === T.COMMA)) {
      if (t.type === T.WORD && CLAUSE_WORDS.has(w)) listOpen = false;
      continue;
    }
    let at = i + 1;
    while (w === 'update' && UPDATE_MODIFIERS.has(wordAt(toks, at))) at++;
    const name = readName(toks, at);
    if (!name || (toks[at]?.type === T.WORD && NOT_TABLES.has(name.name))) {
      listOpen = false;
      continue;
    }
    const alias = skipAlias(toks, name.end);
    out.push({ name: name.name, alias: alias.alias });
    listOpen = w === 'from' || w === 'join' || w === 'update' || t.type === T.COMMA;
    i = alias.end - 1;
  }
  return out;
}

/** A single-token value: literal, placeholder, -number, TRUE/FALSE, NULL; with the index past it. */
export function tokenValue(toks: readonly Token[], i: number): { ref: ValueRef; end: number } | null {
  const t = toks[i];
  if (!t) return null;
  if (t.literal >= 0) return { ref: { kind: 'literal', index: t.literal }, end: i + 1 };
  if (t.type === T.PARAM) return { ref: { kind: 'param', index: t.param }, end: i + 1 };
  if (t.type === T.OP && t.text === '-' && toks[i + 1]?.type === T.NUMBER && toks[i + 1]!.literal >= 0) {
    return { ref: { kind: 'literal', index: toks[i + 1]!.literal, negate: true }, end: i + 2 };
  }
  if (t.type === T.WORD && (t.text === 'true' || t.text === 'false'))
    return { ref: { kind: 'const', value: t.text === 'true' ? '1' : '0' }, end: i + 1 };
  return null;
}

const WHERE_ENDERS = new Set([
  'order',
  'limit',
  'group',
  'having',
  'for',
  'lock',
  'union',
  'into',
  'window',
  'returning',
]);

/** Token ranges of the top-level AND conjuncts of the WHERE clause; null if OR/XOR at top. */
function whereConjuncts(toks: readonly Token[]): Array<[number, number]> | null {
  const start = afterTopLevelWord(toks, 'where');
  if (start < 0) return [];
  const out: Array<[number, number]> = [];
  let from = start;
  let between = false;
  let cases = 0;
  let depth = 0;
  let i = start;
  for (; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type === T.LPAREN) depth++;
    else if (t.type === T.RPAREN) {
      if (--depth < 0) break;
    }
    if (depth !== 0) continue;
    const w = t.type === T.WORD ? t.text : t.type === T.OP ? t.text : '';
    if (WHERE_ENDERS.has(w) || t.type === T.SEMI) break;
    if (w === 'case') cases++;
    else if (w === 'end' && cases > 0) cases--;
    else if (w === 'between') between = true;
    else if (cases === 0 && (w === 'or' || w === 'xor' || w === '||')) return null;
    else if (cases === 0 && (w === 'and' || w === '&&')) {
      if (between) between = false;
      else {
        out.push([from, i]);
        from = i + 1;
      }
    }
  }
  out.push([from, i]);
  return out;
}

/**
 * `col = v`, `v = col`, `col IN (v, ...)` in the top-level AND of the WHERE clause of a
 * single-table statement, the column bare or qualified by the table's name or alias.
 */
export function tokenKeyConditions(toks: readonly Token[], table: TableRef): KeyCondition[] {
  const out: KeyCondition[] = [];
  const ranges = whereConjuncts(toks);
  if (!ranges) return out;
  const columnAt = (i: number): { column: string; end: number } | null => {
    const n = readName(toks, i);
    if (!n || n.qualifier === 'true' || (toks[i]!.type !== T.WORD && toks[i]!.type !== T.QIDENT)) return null;
    if (n.qualifier !== null && n.qualifier !== table.name && n.qualifier !== table.alias) return null;
    return { column: n.name, end: n.end };
  };
  for (const [s, e] of ranges) {
    let a = s;
    let b = e;
    // Redundant parentheses around a whole conjunct.
    while (toks[a]?.type === T.LPAREN && toks[b - 1]?.type === T.RPAREN && b - a > 2) {
      a++;
      b--;
    }
    const col = columnAt(a);
    if (col) {
      const op = toks[col.end];
      if (op?.type === T.OP && op.text === '=') {
        const v = tokenValue(toks, col.end + 1);
        if (v && v.end === b) out.push({ table: table.name, column: col.column, values: [v.ref] });
        continue;
      }
      if (isWord(op, 'in') && toks[col.end + 1]?.type === T.LPAREN) {
        const values: ValueRef[] = [];
        let j = col.end + 2;
        for (;;) {
          const v = tokenValue(toks, j);
          if (!v) break;
          values.push(v.ref);
          j = v.end;
          if (toks[j]?.type !== T.COMMA) break;
          j++;
        }
        if (values.length && toks[j]?.type === T.RPAREN && j + 1 === b)
          out.push({ table: table.name, column: col.column, values });
        continue;
      }
    }
    const v = tokenValue(toks, a);
    if (v && toks[v.end]?.type === T.OP && toks[v.end]!.text === '=') {
      const c = columnAt(v.end + 1);
      if (c && c.end === b) out.push({ table: table.name, column: c.column, values: [v.ref] });
    }
  }
  return out;
}
