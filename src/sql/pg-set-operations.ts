// Set operations the proxy evaluates: INTERSECT [ALL], EXCEPT [ALL], UNION mixed with UNION ALL,
// and UNION ALL with a branch that reads no sharded table. Each shard runs every leaf SELECT,
// tagged with its leaf number, as one UNION ALL; the merge takes each leaf's rows from every
// shard (a leaf that reads no sharded table: from one shard only, since every shard holds the
// same reference rows) and applies the operators with SQL's set and multiset rules.
import { ShardgateError } from '../errors.js';
import type { SetTree } from './facts.js';
import type { Node } from './pg-ast.js';

function unsupported(detail: string): ShardgateError {
  return new ShardgateError('SCATTER_UNSUPPORTED', { detail });
}

const OPS: Record<string, 'union' | 'intersect' | 'except'> = {
  SETOP_UNION: 'union',
  SETOP_INTERSECT: 'intersect',
  SETOP_EXCEPT: 'except',
};

/** The operator tree of a set operation and its leaf SELECTs in order; a string says why not. */
export function setOperationTree(sel: Node): { tree: SetTree; leaves: Node[] } | string {
  if (sel.withClause) return 'WITH before a set operation across shards (move the CTE into each branch)';
  const leaves: Node[] = [];
  const visit = (n: Node, top: boolean): SetTree | string => {
    const op = typeof n.op === 'string' ? OPS[n.op] : undefined;
    if (!op) {
      leaves.push(n);
      return { leaf: leaves.length - 1 };
    }
    if (!top && (n.sortClause || n.limitCount || n.limitOffset))
      return 'ORDER BY or LIMIT inside a parenthesized set operation';
    const l = visit((n.larg ?? {}) as Node, false);
    if (typeof l === 'string') return l;
    const r = visit((n.rarg ?? {}) as Node, false);
    if (typeof r === 'string') return r;
    return { op, all: Boolean(n.all), left: l, right: r };
  };
  const tree = visit(sel, true);
  return typeof tree === 'string' ? tree : { tree, leaves };
}

interface Word {
  word: string;
  start: number;
  end: number;
}

/** sql[a, b) with comments blanked (the masked text has them as spaces, literals as zeros). */
function uncommented(sql: string, masked: string, a: number, b: number): string {
  let out = '';
  for (let k = a; k < b; k++) out += masked[k] === ' ' ? ' ' : sql[k];
  return out;
}

const SET_WORDS = new Set(['union', 'intersect', 'except']);
const TAIL_WORDS = new Set(['order', 'limit', 'offset', 'fetch', 'for']);

/** Depth-0 set-operation words (with their ALL/DISTINCT) in masked[a, b): [start, end) each. */
function setWordsIn(masked: string, a: number, b: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let depth = 0;
  for (let i = a; i < b; i++) {
    const c = masked[i]!;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '"') {
      const j = masked.indexOf('"', i + 1);
      i = j < 0 ? b : j;
    } else if (depth === 0 && /[A-Za-z]/.test(c) && !/[\w$]/.test(masked[i - 1] ?? ' ')) {
      const m = /^(union|intersect|except)\b(\s+(?:all|distinct)\b)?/i.exec(masked.slice(i, b));
      if (m) {
        out.push([i, i + m[0].length]);
        i += m[0].length - 1;
      } else {
        while (i + 1 < b && /[\w$]/.test(masked[i + 1]!)) i++;
      }
    }
  }
  return out;
}

/** The leaf SELECT spans of masked[a, b), left to right, looking inside parenthesized set operations. */
function leafSpans(masked: string, a: number, b: number): Array<[number, number]> {
  while (a < b && /\s/.test(masked[a]!)) a++;
  while (b > a && /\s/.test(masked[b - 1]!)) b--;
  const words = setWordsIn(masked, a, b);
  if (words.length === 0) {
    // A parenthesized operand that is itself a set operation: split inside.
    if (masked[a] === '(' && masked[b - 1] === ')' && setWordsIn(masked, a + 1, b - 1).length > 0)
      return leafSpans(masked, a + 1, b - 1);
    return [[a, b]];
  }
  const out: Array<[number, number]> = [];
  let from = a;
  for (const [s, e] of words) {
    out.push(...leafSpans(masked, from, s));
    from = e;
  }
  out.push(...leafSpans(masked, from, b));
  return out;
}

/**
 * Per-shard text: `SELECT *, <i> FROM (<leaf i>) AS sg_leaf<i>` for every leaf, joined by
 * UNION ALL; the statement's own ORDER BY / LIMIT / OFFSET are left to the merge.
 */
export function setOperationSql(sql: string, masked: string, words: Word[], leafCount: number): string {
  let lastSet = -1;
  for (let i = 0; i < words.length; i++) if (SET_WORDS.has(words[i]!.word)) lastSet = i;
  const tail = words.slice(Math.max(lastSet, 0)).find((w) => TAIL_WORDS.has(w.word));
  const end = tail ? tail.start : masked.replace(/[\s;]+$/, '').length;
  const spans = leafSpans(masked, 0, end);
  if (spans.length !== leafCount)
    throw unsupported('a set operation whose branches cannot be located in the text');
  return spans
    .map(([a, b], i) => `SELECT *, ${i} FROM (${uncommented(sql, masked, a, b).trim()}) AS sg_leaf${i}`)
    .join(' UNION ALL ');
}
