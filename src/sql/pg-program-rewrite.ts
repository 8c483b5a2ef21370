// The per-shard text of a SELECT whose aggregates the proxy computes (pg-aggregate-program.ts):
// every output that holds an aggregate becomes `(CASE WHEN false THEN <expr> END) AS "<name>"`
// (a NULL of the type PostgreSQL gives the expression, so the merged result is described exactly
// as one database would describe it, and nothing is evaluated on partial rows), the partials of
// every aggregate call are appended to the select list, and HAVING and ORDER BY are removed (the
// merge evaluates them). Edits are located on the masked text (literals and comments blanked).
import { type PartialCall, programFor } from './pg-aggregate-program.js';
import type { Node } from './pg-ast.js';
import {
  aggregateCallExtent,
  clauseEnd,
  type Edit,
  HAVING_ENDS,
  neutralHaving,
  orderByKeys,
  orderByRemoval,
  programListEdits,
  scatterUnsupported,
  splitTopLevel,
  topLevelMatch,
  type Word,
} from './pg-masked-text.js';

/** The texts an aggregate call is made of: arguments, ORDER BY, FILTER. */
function callParts(sql: string, masked: string, f: Node) {
  const { loc, open, argsEnd, end } = aggregateCallExtent(masked, f.location);
  const inner = [open + 1, argsEnd - 1] as const;
  const orderAt = topLevelMatch(masked, inner[0], inner[1], /^order\s+by\b/i);
  const argsStop = orderAt < 0 ? inner[1] : orderAt;
  let argsText = sql.slice(inner[0], argsStop).trim();
  const distinct = /^distinct\b/i.test(masked.slice(inner[0], argsStop).trim());
  argsText = argsText.replace(/^(?:all|distinct)\s+/i, '');
  const args = splitTopLevel(masked, inner[0], argsStop).map(([a, b]) => sql.slice(a, b).trim());
  if (args.length > 0) args[0] = args[0]!.replace(/^(?:all|distinct)\s+/i, '');
  const orderText = orderAt < 0 ? '' : ` ${sql.slice(orderAt, inner[1]).trim()}`;
  const keys = orderAt < 0 ? [] : orderByKeys(sql, masked, orderAt, inner[1]);
  return {
    call: sql.slice(loc, end),
    argsText,
    args,
    distinct,
    orderText,
    keys,
    filter: sql.slice(argsEnd, end),
  };
}

const IDENT = /^(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*))*/;

function partialSql(sql: string, masked: string, c: PartialCall): string[] {
  return c.columns.map((col) => {
    if (col.kind === 'column') {
      const loc = c.node.location;
      const m = typeof loc === 'number' ? IDENT.exec(masked.slice(loc)) : null;
      if (!m) throw scatterUnsupported('a column inside an aggregate expression that cannot be located');
      return sql.slice(loc as number, (loc as number) + m[0].length);
    }
    const p = callParts(sql, masked, c.node);
    switch (col.kind) {
      case 'call':
        return p.call;
      case 'array':
        return `array_agg(${p.distinct ? 'DISTINCT ' : ''}${p.args[0]}${p.orderText})${p.filter}`;
      case 'sum':
        return `sum(${p.argsText})${p.filter}`;
      case 'count':
        return `count(${p.argsText})${p.filter}`;
      case 'sumx':
        return `sum((${p.argsText})::numeric)${p.filter}`;
      case 'sumxx':
        return `sum((${p.argsText})::numeric * (${p.argsText})::numeric)${p.filter}`;
      default:
        return `array_agg(${p.keys[(col as { key: number }).key]}${p.orderText})${p.filter}`;
    }
  });
}

/** Edits that turn the client's SELECT into the per-shard SELECT of its aggregate program. */
export function programEdits(sql: string, masked: string, words: Word[], select: Node): Edit[] {
  const planned = programFor(select, () => ({ kind: 'const', value: null }));
  if (planned === null || typeof planned === 'string')
    throw scatterUnsupported(typeof planned === 'string' ? planned : 'aggregates the proxy cannot compute');
  const { program, calls } = planned;
  const computed = program.outputs.flatMap((output, i) => (output === null ? [] : [i]));
  const partials = calls.flatMap((c) => partialSql(sql, masked, c));
  const edits = programListEdits(masked, words, select, computed, partials);
  // HAVING and ORDER BY go: the merge filters and orders the merged groups.
  const havingAt = words.findIndex((w) => w.word === 'having');
  if (havingAt >= 0) {
    const end = clauseEnd(masked, words, havingAt, HAVING_ENDS);
    // Parameters inside stay referenced (the shard's Parse must expect every bound value).
    const text = neutralHaving(sql, masked, words[havingAt]!.end, end);
    edits.push({ start: words[havingAt]!.start, end, text });
  }
  edits.push(...orderByRemoval(masked, words));
  return edits;
}
