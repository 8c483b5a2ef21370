// Window functions whose partitions span shards (not partitioned by the shard key): the proxy
// gathers the rows and evaluates them. Each shard returns the client's columns with every window
// output as a typed NULL (`(CASE WHEN false THEN <call> END)`, so it is described exactly as one
// database would describe it), followed by hidden columns per window output: its PARTITION BY
// values, its ORDER BY values, its arguments. Top-level ORDER BY / LIMIT / OFFSET are left to the
// merge, which runs after the windows. The analyzer and the per-shard rewrite both call
// windowProgramFor, so the hidden column layout means the same thing to both.
import { isType, lastName, list, type Node } from './pg-ast.js';
import {
  type Edit,
  groupEnd,
  orderByKeys,
  orderByRemoval,
  programListEdits,
  scatterUnsupported,
  splitTopLevel,
  topLevelMatch,
  type Word,
} from './pg-masked-text.js';

export type WindowFn =
  | 'row_number'
  | 'rank'
  | 'dense_rank'
  | 'lag'
  | 'lead'
  | 'sum'
  | 'count'
  | 'min'
  | 'max'
  | 'avg';

/** The window functions the shared evaluator computes (both ports' programs check against it). */
export const WINDOW_FUNCTIONS: ReadonlySet<string> = new Set<string>([
  'row_number',
  'rank',
  'dense_rank',
  'lag',
  'lead',
  'sum',
  'count',
  'min',
  'max',
  'avg',
]);
/** RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW: the only frame evaluated here. */
const DEFAULT_FRAME = 1058;

export interface WindowOutput {
  fn: WindowFn;
  /** 0-based hidden columns (absolute positions in the per-shard result). */
  partition: number[];
  order: Array<{ column: number; desc: boolean; nullsFirst: boolean }>;
  args: number[];
}

export interface WindowProgram {
  outputs: Array<WindowOutput | null>;
  hiddenColumns: number;
}

interface Located {
  output: number;
  call: Node;
  def: Node;
}

/** The window program of a SELECT; null when it has no windows; a string says why not. */
export function windowProgramFor(sel: Node): { program: WindowProgram; located: Located[] } | string | null {
  const targets = list(sel.targetList).map((t) => isType(t, 'ResTarget') ?? {});
  if (!targets.some((rt) => isType(rt.val, 'FuncCall')?.over)) return null;
  if (Array.isArray(sel.distinctClause)) return 'DISTINCT with window functions across shards';
  const named = new Map<string, Node>();
  for (const w of list(sel.windowClause)) {
    const d = isType(w, 'WindowDef');
    if (d && typeof d.name === 'string') named.set(d.name, d);
  }
  const outputs: Array<WindowOutput | null> = [];
  const located: Located[] = [];
  let next = targets.length;
  for (let i = 0; i < targets.length; i++) {
    const rt = targets[i]!;
    const call = isType(rt.val, 'FuncCall');
    if (
      isType(rt.val, 'ColumnRef') &&
      list(isType(rt.val, 'ColumnRef')?.fields).some((f) => isType(f, 'A_Star'))
    )
      return '* with window functions across shards (list the columns)';
    if (!call?.over) {
      outputs.push(null);
      continue;
    }
    const name = lastName(call.funcname) ?? '';
    if (!WINDOW_FUNCTIONS.has(name) || call.agg_distinct || call.agg_filter || call.agg_order)
      return `window function ${name}() across shards`;
    let def = (isType(call.over, 'WindowDef') ?? call.over) as Node;
    if (typeof def.refname === 'string') return 'a window that extends a named window';
    if (typeof def.name === 'string') {
      const d = named.get(def.name);
      if (!d) return `window ${def.name} is not defined`;
      def = d;
    }
    if (def.frameOptions !== DEFAULT_FRAME) return 'a window frame clause across shards';
    const take = (n: number) => Array.from({ length: n }, () => next++);
    const partition = take(list(def.partitionClause).length);
    const order = list(def.orderClause).map((s) => {
      const b = isType(s, 'SortBy') ?? {};
      const desc = b.sortby_dir === 'SORTBY_DESC';
      const nulls = b.sortby_nulls;
      return {
        column: next++,
        desc,
        nullsFirst: nulls === 'SORTBY_NULLS_FIRST' ? true : nulls === 'SORTBY_NULLS_LAST' ? false : desc,
      };
    });
    if (list(def.orderClause).some((s) => isType(s, 'SortBy')?.sortby_dir === 'SORTBY_USING'))
      return 'ORDER BY ... USING in a window';
    const args = take(call.agg_star ? 0 : list(call.args).length);
    if ((name === 'sum' || name === 'min' || name === 'max' || name === 'avg') && args.length !== 1)
      return `${name}() over a window with ${args.length} arguments`;
    outputs.push({ fn: name as WindowFn, partition, order, args });
    located.push({ output: i, call, def });
  }
  return { program: { outputs, hiddenColumns: next - targets.length }, located };
}

/** Depth-0 comma-separated items of masked[a, b), without an empty last one. */
function items(masked: string, a: number, b: number): Array<[number, number]> {
  return splitTopLevel(masked, a, b).filter(
    ([x, y], n, all) => n < all.length - 1 || masked.slice(x, y).trim() !== '',
  );
}

/** Edits that turn the client's SELECT into the per-shard SELECT of its window program. */
export function windowEdits(sql: string, masked: string, words: Word[], sel: Node): Edit[] {
  const planned = windowProgramFor(sel);
  if (planned === null || typeof planned === 'string')
    throw scatterUnsupported(
      typeof planned === 'string' ? planned : 'window functions the proxy cannot compute',
    );
  const appended: string[] = [];
  for (const { call, def } of planned.located) {
    // The window's parentheses: inline after OVER, or the WINDOW clause's definition.
    const defLoc = def.location;
    if (typeof defLoc !== 'number') throw scatterUnsupported('a window definition that cannot be located');
    const open = masked.indexOf('(', defLoc);
    const close = groupEnd(masked, open) - 1;
    const partitionAt = topLevelMatch(masked, open + 1, close, /^partition\s+by\b/i);
    const orderAt = topLevelMatch(masked, open + 1, close, /^order\s+by\b/i);
    if (partitionAt >= 0) {
      const listStart = partitionAt + /^partition\s+by/i.exec(masked.slice(partitionAt))![0].length;
      for (const [a, b] of items(masked, listStart, orderAt >= 0 ? orderAt : close))
        appended.push(sql.slice(a, b).trim());
    }
    if (orderAt >= 0) appended.push(...orderByKeys(sql, masked, orderAt, close));
    const callOpen = masked.indexOf('(', call.location as number);
    const callClose = groupEnd(masked, callOpen) - 1;
    if (!call.agg_star)
      for (const [a, b] of items(masked, callOpen + 1, callClose)) appended.push(sql.slice(a, b).trim());
  }
  if (appended.length !== planned.program.hiddenColumns)
    throw scatterUnsupported('window clauses that cannot be located in the text');
  const computed = planned.located.map((l) => l.output);
  return [...programListEdits(masked, words, sel, computed, appended), ...orderByRemoval(masked, words)];
}
