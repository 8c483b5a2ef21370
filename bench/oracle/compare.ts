// The verdict on one statement: the oracle's outcome (one unsharded database) against shardgate's.
// match: same column names and type OIDs, same rows (in order when the statement's ORDER BY is
// total, as a multiset otherwise), same command tag, or the same error code (SQLSTATE on
// PostgreSQL, errno on MySQL). refused: shardgate answered the dialect's "not supported" code
// (0A000, MySQL errno 1235) with a message. Anything else is a mismatch.
import { formatArrayText, parseArrayText } from '../../src/executor/pg-array-text.js';
import type { Outcome, ResultOutcome } from './outcome.js';
import type { UnorderedCell } from './statement-info.js';

export type Verdict =
  | { verdict: 'match' }
  | { verdict: 'refused'; reason: string }
  | { verdict: 'mismatch'; why: string };

export interface CompareOptions {
  /** The statement's ORDER BY makes the row order deterministic. */
  ordered: boolean;
  /** Type OIDs compared with a relative tolerance (floating point: sums depend on addition order). */
  floatTypes: ReadonlySet<number>;
  /** The error code of a refusal: SQLSTATE 0A000 by default, errno "1235" on MySQL. */
  refusedCode?: string;
  /** Cells whose element order is free (array_agg / string_agg without ORDER BY). */
  unorderedCells?: readonly UnorderedCell[];
}

/** An unordered aggregate's cell with its elements sorted, so any element order compares equal. */
function sortedElements(cell: string | null, delimiter: string | null): string | null {
  if (cell === null) return null;
  if (delimiter === null)
    return formatArrayText(parseArrayText(cell).sort((a, b) => (a.raw < b.raw ? -1 : a.raw > b.raw ? 1 : 0)));
  return cell.split(delimiter).sort().join(delimiter);
}

function normalizeUnordered(o: ResultOutcome, cells: readonly UnorderedCell[]): ResultOutcome {
  return {
    ...o,
    rows: o.rows.map((r) => {
      const copy = r.slice();
      for (const c of cells)
        if (c.column < copy.length) copy[c.column] = sortedElements(copy[c.column] ?? null, c.delimiter);
      return copy;
    }),
  };
}

export const REFUSED_SQLSTATE = '0A000';
/** MySQL's ER_NOT_SUPPORTED_YET, the errno shardgate's MySQL front end refuses with. */
export const REFUSED_MYSQL_ERRNO = '1235';

/** A refusal's message with the statement's particulars (numbers, quoted names) taken out. */
export function refusalReason(message: string): string {
  return message
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\b\d+\b/g, 'N')
    .slice(0, 160);
}

function floatEqual(a: string, b: string): boolean {
  if (a === b) return true;
  const x = Number(a);
  const y = Number(b);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return false;
  return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
}

function cellsEqual(a: string | null, b: string | null, float: boolean): boolean {
  if (a === null || b === null) return a === b;
  return float ? floatEqual(a, b) : a === b;
}

function rowKey(row: Array<string | null>, floats: boolean[]): string {
  // Floats rounded to 9 significant digits for the multiset key; the cell compare is exact enough.
  return JSON.stringify(row.map((c, i) => (c !== null && floats[i] ? Number(c).toPrecision(9) : c)));
}

function compareRows(want: ResultOutcome, got: ResultOutcome, options: CompareOptions): string | null {
  if (want.rows.length !== got.rows.length)
    return `row count: oracle ${want.rows.length}, shardgate ${got.rows.length}`;
  const floats = want.columns.map((c) => options.floatTypes.has(c.type));
  let w = want.rows;
  let g = got.rows;
  if (!options.ordered) {
    const sort = (rows: Array<Array<string | null>>) =>
      rows
        .map((r) => ({ r, k: rowKey(r, floats) }))
        .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
        .map((x) => x.r);
    w = sort(w);
    g = sort(g);
  }
  for (let i = 0; i < w.length; i++) {
    const a = w[i]!;
    const b = g[i]!;
    for (let j = 0; j < a.length; j++) {
      if (!cellsEqual(a[j] ?? null, b[j] ?? null, floats[j]!))
        return `row ${i + 1}${options.ordered ? '' : ' (sorted)'} column ${want.columns[j]?.name}: oracle ${a[j]}, shardgate ${b[j]}`;
    }
  }
  return null;
}

export function compareOutcomes(want: Outcome, got: Outcome, options: CompareOptions): Verdict {
  const refused = options.refusedCode ?? REFUSED_SQLSTATE;
  if (got.kind === 'error' && got.code === refused && !(want.kind === 'error' && want.code === refused))
    return got.message.trim()
      ? { verdict: 'refused', reason: refusalReason(got.message) }
      : { verdict: 'mismatch', why: 'refused with an empty message' };
  if (want.kind === 'error' || got.kind === 'error') {
    if (want.kind === 'error' && got.kind === 'error')
      return want.code === got.code
        ? { verdict: 'match' }
        : { verdict: 'mismatch', why: `SQLSTATE: oracle ${want.code}, shardgate ${got.code}` };
    return {
      verdict: 'mismatch',
      why: want.kind === 'error' ? 'only the oracle failed' : 'only shardgate failed',
    };
  }
  const names = (o: ResultOutcome) => o.columns.map((c) => c.name).join(', ');
  if (names(want) !== names(got))
    return { verdict: 'mismatch', why: `columns: oracle (${names(want)}), shardgate (${names(got)})` };
  const types = (o: ResultOutcome) => o.columns.map((c) => c.type).join(', ');
  if (types(want) !== types(got))
    return { verdict: 'mismatch', why: `column types: oracle (${types(want)}), shardgate (${types(got)})` };
  if (want.tag !== got.tag)
    return { verdict: 'mismatch', why: `command tag: oracle ${want.tag}, shardgate ${got.tag}` };
  const cells = options.unorderedCells ?? [];
  const rows =
    cells.length > 0
      ? compareRows(normalizeUnordered(want, cells), normalizeUnordered(got, cells), options)
      : compareRows(want, got, options);
  return rows === null ? { verdict: 'match' } : { verdict: 'mismatch', why: rows };
}
