// COPY ... FROM STDIN (and COPY (query) TO STDOUT's format) as the router needs it: the table, the column list and the options that
// decide how rows and fields are read (format, HEADER, DELIMITER, NULL, QUOTE, ESCAPE, DEFAULT,
// FORCE_NULL), with PostgreSQL's defaults. The server checks the options again; a value this
// reader does not accept makes the statement unsplittable (`problem`), never guessed.
import type { CopyInFacts } from './facts.js';
import { isType, list, type Node, str } from './pg-ast.js';

export function copyInFacts(body: Node): CopyInFacts {
  const rel = body.relation as Node | undefined;
  const columns = body.attlist ? list(body.attlist).map((c) => str(c) ?? '') : null;
  const opts = new Map<string, unknown>();
  for (const o of list(body.options)) {
    const d = isType(o, 'DefElem');
    if (d && typeof d.defname === 'string') opts.set(d.defname, d.arg);
  }
  const format = (optionText(opts.get('format')) ?? 'text').toLowerCase();
  const csv = format === 'csv';
  const header =
    opts.has('header') &&
    !['off', 'false', '0', 'no'].includes(optionText(opts.get('header'))?.toLowerCase() ?? '');
  const delimiter = optionText(opts.get('delimiter')) ?? (csv ? ',' : '\t');
  const quote = optionText(opts.get('quote')) ?? '"';
  const escapeChar = optionText(opts.get('escape')) ?? quote;
  const forceNull = opts.get('force_null');
  let problem: string | null = null;
  if (format === 'binary') problem = 'COPY in binary format over several shards (use text or CSV)';
  else if (format !== 'text' && format !== 'csv') problem = `COPY format ${format}`;
  else if (!body.filename && body.is_program) problem = 'COPY FROM PROGRAM';
  for (const [name, value] of [
    ['DELIMITER', delimiter],
    ['QUOTE', quote],
    ['ESCAPE', escapeChar],
  ] as const) {
    if (Buffer.byteLength(value) !== 1)
      problem ??= `COPY ${name} '${value}' (it must be one one-byte character)`;
  }
  const encoding = optionText(opts.get('encoding'));
  if (encoding && !/^utf-?8$/i.test(encoding)) problem ??= `COPY ENCODING '${encoding}' (send UTF8)`;
  return {
    table: typeof rel?.relname === 'string' ? rel.relname : '',
    schema: typeof rel?.schemaname === 'string' ? rel.schemaname : null,
    columns,
    stdin: !body.filename && !body.is_program,
    csv,
    header,
    delimiter,
    nullText: optionText(opts.get('null')) ?? (csv ? '' : '\\N'),
    quote,
    escape: escapeChar,
    defaultText: optionText(opts.get('default')),
    forceNull:
      forceNull === undefined
        ? []
        : isType(forceNull, 'A_Star')
          ? '*'
          : list(forceNull).map((c) => str(c) ?? ''),
    problem,
  };
}

/** A DefElem argument as text: strings, booleans (true/false), numbers; null when absent. */
function optionText(arg: unknown): string | null {
  if (arg === undefined) return null;
  if (arg === null) return 'true';
  const s = str(arg);
  if (s !== null) return s;
  const b = isType(arg, 'Boolean');
  if (b) return b.boolval ? 'true' : 'false';
  const i = isType(arg, 'Integer');
  if (i) return String((i.ival as number | undefined) ?? 0);
  return null;
}

/** The options shardgate writes COPY (query) TO STDOUT with itself (executor/copy-text-out.ts). */
const COPY_OUT_OPTIONS = new Set(['format', 'header', 'delimiter', 'null', 'quote', 'escape', 'encoding']);
const BOOLEAN_TEXT = new Set(['true', 'false', 'on', 'off', '1', '0', 'yes', 'no']);
/** A text-format delimiter PostgreSQL refuses (it could not be told from an escape or data). */
const TEXT_DELIMITER_REFUSED = '\\.abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * COPY (query) TO STDOUT's format, for shardgate to write the merged rows itself: any option it
 * does not implement, and any combination PostgreSQL refuses, makes it unsplittable (0A000).
 */
export function copyOutFacts(body: Node): CopyInFacts {
  const facts = copyInFacts(body);
  if (facts.problem) return facts;
  const given = new Map<string, unknown>();
  for (const o of list(body.options)) {
    const d = isType(o, 'DefElem');
    if (d && typeof d.defname === 'string') given.set(d.defname, d.arg);
  }
  const unsupported = [...given.keys()].find((n) => !COPY_OUT_OPTIONS.has(n));
  const header = given.has('header') ? (optionText(given.get('header')) ?? 'true').toLowerCase() : 'false';
  const { csv, delimiter, quote, nullText } = facts;
  let problem: string | null = null;
  if (unsupported)
    problem = `COPY (query) TO STDOUT with ${unsupported.toUpperCase()} over several shards (send it without)`;
  else if (!csv && (given.has('quote') || given.has('escape')))
    problem = 'COPY QUOTE or ESCAPE outside CSV mode (PostgreSQL refuses it too)';
  else if (!BOOLEAN_TEXT.has(header)) problem = `COPY TO with HEADER ${header} (PostgreSQL refuses it too)`;
  else if (/[\r\n]/.test(delimiter + nullText))
    problem = 'COPY DELIMITER or NULL with a line end (PostgreSQL refuses it too)';
  else if (nullText.includes(delimiter))
    problem = 'COPY DELIMITER inside the NULL string (PostgreSQL refuses it too)';
  else if (!csv && TEXT_DELIMITER_REFUSED.includes(delimiter))
    problem = `COPY DELIMITER '${delimiter}' in text format (PostgreSQL refuses it too)`;
  else if (csv && (delimiter === quote || nullText.includes(quote)))
    problem = 'COPY CSV whose QUOTE is the DELIMITER or inside the NULL string (PostgreSQL refuses it too)';
  return { ...facts, problem };
}
