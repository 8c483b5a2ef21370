// Window functions whose partitions span shards, on the MySQL port (the counterpart of
// src/sql/pg-window-program.ts, evaluated by the same src/executor/window-functions.ts): each shard
// runs the client's select list unchanged (so every window column keeps the name and type MariaDB
// gives it; the proxy overwrites its per-shard value) followed by hidden columns per window
// output: its PARTITION BY values, its ORDER BY values, its arguments. The analyzer numbers the
// hidden columns from the AST; the per-shard rewrite copies their text from the statement's
// tokens, in the same order, and both check the count.
import { WINDOW_FUNCTIONS, type WindowFn, type WindowProgram } from '../pg-window-program.js';
import type { Token } from './fingerprint-mysql.js';
import { asArray, functionName, isNode, type Node, nameOf, walk } from './mysql-ast.js';
import { T } from './mysql-lexer.js';
import { groupEnd } from './parse-text.js';

/** The window_specification an OVER uses: its own, or the WINDOW clause's of that name. */
function specOf(over: Node, sel: Node): Node | string {
  const own = over.as_window_specification;
  if (isNode(own)) return isNode(own.window_specification) ? own.window_specification : 'a window';
  if (typeof own !== 'string') return 'a window';
  const def = asArray(isNode(sel.window) ? sel.window.expr : [])
    .filter(isNode)
    .find((d) => d.name === own);
  const spec = isNode(def?.as_window_specification) ? def.as_window_specification.window_specification : null;
  return isNode(spec) ? spec : `window ${own} is not defined`;
}

function argList(call: Node): unknown[] {
  const args = call.args;
  if (!isNode(args)) return [];
  if (args.type === 'expr_list') return asArray(args.value);
  return isNode(args.expr) && args.expr.type === 'star' ? [] : [args.expr];
}

/** The window program of a SELECT whose windows span shards; a string says why not. */
export function mysqlWindowProgram(sel: Node): WindowProgram | string {
  if (sel.columns === '*') return '* with window functions across shards (list the columns)';
  if (sel.distinct) return 'DISTINCT with window functions across shards';
  const columns = asArray(sel.columns).filter(isNode);
  const outputs: WindowProgram['outputs'] = [];
  let next = columns.length;
  for (const c of columns) {
    const e = c.expr;
    if (isNode(e) && e.type === 'column_ref' && nameOf(e.column) === '*')
      return '* with window functions across shards (list the columns)';
    const call = isNode(e) && isNode(e.over) ? e : null;
    let inner = false;
    walk(call ? argList(call) : e, (n) => {
      if (isNode(n.over)) inner = true;
    });
    if (inner) return 'a window function inside an expression across shards';
    if (!call) {
      outputs.push(null);
      continue;
    }
    const name = (functionName(call) ?? '').toLowerCase();
    if (!WINDOW_FUNCTIONS.has(name)) return `window function ${name}() across shards`;
    if (isNode(call.args) && call.args.distinct) return `${name}(DISTINCT ...) over a window`;
    const spec = specOf(call.over as Node, sel);
    if (typeof spec === 'string') return spec;
    if (spec.window_frame_clause) return 'a window frame clause across shards';
    if (spec.name) return 'a window that extends a named window';
    const take = (n: number) => Array.from({ length: n }, () => next++);
    const partition = take(asArray(spec.partitionby).length);
    // MySQL sorts NULL as the smallest value: first ascending, last descending.
    const order = asArray(spec.orderby)
      .filter(isNode)
      .map((o) => {
        const desc = typeof o.type === 'string' && o.type.toUpperCase() === 'DESC';
        return { column: next++, desc, nullsFirst: !desc };
      });
    const args = take(argList(call).length);
    if ((name === 'sum' || name === 'min' || name === 'max' || name === 'avg') && args.length !== 1)
      return `${name}() over a window with ${args.length} arguments`;
    outputs.push({ fn: name as WindowFn, partition, order, args });
  }
  return { outputs, hiddenColumns: next - columns.length };
}

const isWord = (t: Token | undefined, w: string) => t !== undefined && t.type === T.WORD && t.text === w;

/** [start, end) token ranges of the depth-0 comma-separated items of toks[a, b). */
function items(toks: readonly Token[], a: number, b: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let from = a;
  for (let i = a; i < b; i++) {
    const t = toks[i]!;
    if (t.type === T.LPAREN) i = groupEnd(toks, i) - 1;
    else if (t.type === T.COMMA) {
      out.push([from, i]);
      from = i + 1;
    }
  }
  if (from < b) out.push([from, b]);
  return out;
}

/** Index of the depth-0 `<first> BY` in toks[a, b), or -1. */
function clauseAt(toks: readonly Token[], a: number, b: number, first: string): number {
  for (let i = a; i < b; i++) {
    if (toks[i]!.type === T.LPAREN) i = groupEnd(toks, i) - 1;
    else if (isWord(toks[i], first) && isWord(toks[i + 1], 'by')) return i;
  }
  return -1;
}

/**
 * The hidden columns' texts of the select list items `list` (token ranges), in the analyzer's
 * order; `windowAt` is the top-level WINDOW keyword's index (or -1). Null when a window cannot
 * be located.
 */
export function windowHiddenColumns(
  sql: string,
  toks: readonly Token[],
  list: Array<[number, number]>,
  windowAt: number,
): string[] | null {
  const text = ([a, b]: [number, number]) => sql.slice(toks[a]!.start, toks[b - 1]!.end);
  const out: string[] = [];
  for (const [a, b] of list) {
    let over = -1;
    for (let i = a; i < b; i++) {
      if (toks[i]!.type === T.LPAREN) i = groupEnd(toks, i) - 1;
      else if (isWord(toks[i], 'over')) {
        over = i;
        break;
      }
    }
    if (over < 0) continue;
    const callOpen = toks.findIndex((t, i) => i >= a && i < over && t.type === T.LPAREN);
    if (callOpen < 0) return null;
    const callClose = groupEnd(toks, callOpen) - 1;
    let specOpen = over + 1;
    if (toks[specOpen]?.type !== T.LPAREN) {
      // OVER name: the WINDOW clause's `name AS (...)`.
      const name = toks[specOpen]?.text;
      if (windowAt < 0 || toks[specOpen]?.type !== T.WORD || !name) return null;
      specOpen = -1;
      for (let i = windowAt + 1; i + 2 < toks.length; i++) {
        if (toks[i]!.type === T.LPAREN) i = groupEnd(toks, i) - 1;
        else if (isWord(toks[i], name) && isWord(toks[i + 1], 'as') && toks[i + 2]!.type === T.LPAREN) {
          specOpen = i + 2;
          break;
        }
      }
      if (specOpen < 0) return null;
    }
    const specClose = groupEnd(toks, specOpen) - 1;
    const partitionAt = clauseAt(toks, specOpen + 1, specClose, 'partition');
    const orderAt = clauseAt(toks, specOpen + 1, specClose, 'order');
    if (partitionAt >= 0)
      for (const r of items(toks, partitionAt + 2, orderAt >= 0 ? orderAt : specClose)) out.push(text(r));
    if (orderAt >= 0)
      for (const [x, y] of items(toks, orderAt + 2, specClose)) {
        const direction = isWord(toks[y - 1], 'asc') || isWord(toks[y - 1], 'desc');
        out.push(text([x, direction ? y - 1 : y]));
      }
    const star = callClose === callOpen + 2 && toks[callOpen + 1]?.text === '*';
    if (!star) for (const r of items(toks, callOpen + 1, callClose)) out.push(text(r));
  }
  return out;
}
