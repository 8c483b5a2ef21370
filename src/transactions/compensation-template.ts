// Compensating statements (crossShard: compensate, docs/transactions.md): the application
// declares per table and statement kind a template such as `DELETE FROM transfers WHERE id = :id`;
// shardgate fills `:name` with the original statement's value of that column. Pure: parsing,
// the values a statement gives, and the filled-in SQL text.
import type { StatementFacts, ValueRef } from '../sql/facts.js';

export type CompensatedKind = 'insert' | 'update' | 'delete';

/** `:name` outside quotes and not a `::` cast: the names a template uses, in order. */
export function templateNames(template: string): string[] {
  const names: string[] = [];
  scan(template, (name) => {
    names.push(name);
    return '';
  });
  return names;
}

/** A value of the original statement: text, or null for SQL NULL. */
export type Values = ReadonlyMap<string, string | null>;

/** A value as a string literal of the protocol's SQL (the column's type casts it). */
export type QuoteLiteral = (value: string) => string;

/** PostgreSQL: E'...' reads the same whatever standard_conforming_strings says. */
export const pgLiteral: QuoteLiteral = (v) =>
  v.includes('\\') ? `E'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'` : `'${v.replace(/'/g, "''")}'`;

/**
 * MariaDB: a value with a backslash as a utf8mb4 hex string, which reads the same with or
 * without NO_BACKSLASH_ESCAPES; any other value as '...'.
 */
export const mysqlLiteral: QuoteLiteral = (v) =>
  v.includes('\\') ? `_utf8mb4 X'${Buffer.from(v, 'utf8').toString('hex')}'` : `'${v.replace(/'/g, "''")}'`;

/** The template with every `:name` replaced by its value as a quoted literal (`quote`). */
export function fillTemplate(template: string, values: Values, quote: QuoteLiteral = pgLiteral): string {
  return scan(template, (name) => {
    const v = values.get(name);
    if (v === undefined) throw new Error(`no value for :${name}`);
    return v === null ? 'NULL' : quote(v);
  });
}

function scan(template: string, replace: (name: string) => string): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const ch = template[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      // A quoted literal or identifier is copied as is (a doubled quote stays inside).
      const end = closingQuote(template, i);
      out += template.slice(i, end);
      i = end;
      continue;
    }
    if (ch === ':' && template[i + 1] === ':') {
      out += '::';
      i += 2;
      continue;
    }
    const m = ch === ':' ? /^:([A-Za-z_][A-Za-z0-9_]*)/.exec(template.slice(i)) : null;
    if (m) {
      out += replace(m[1]!.toLowerCase());
      i += m[0].length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

function closingQuote(text: string, start: number): number {
  const q = text[start]!;
  let i = start + 1;
  while (i < text.length) {
    if (text[i] === q) {
      if (text[i + 1] === q) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return text.length;
}

/** What a write gives a template: a row per inserted row, else the one row it names. */
export interface StatementValues {
  kind: CompensatedKind;
  table: string;
  /** INSERT: one map per VALUES row; UPDATE/DELETE: one map. */
  rows: Values[];
}

/**
 * The values a write statement names: an INSERT's columns per VALUES row; an UPDATE's or
 * DELETE's `column = value` conditions of its WHERE (top-level AND), and an UPDATE's constant
 * assignments as `new_<column>`. Returns a reason instead when the statement has no such shape
 * (several tables, INSERT ... SELECT, ON CONFLICT, a modifying CTE, MERGE); null when it
 * writes no table row (SELECT ... FOR UPDATE).
 * `resolve` returns undefined for a value it cannot know (a binary parameter of unknown type).
 */
export function statementValues(
  facts: StatementFacts,
  resolve: (ref: ValueRef) => string | null | undefined,
): StatementValues | { reason: string } | null {
  if (facts.merge) return { reason: 'MERGE has no compensating template kind' };
  // Read from its tokens only (MySQL's fallback): its values and even its kind are not certain.
  if (facts.parseError && facts.kind === 'write')
    return { reason: `shardgate could not parse the statement (${facts.parseError})` };
  if (facts.modifyingCte || facts.writeTables.length > 1)
    return { reason: 'it writes through a CTE or into several tables' };
  // SELECT ... FOR UPDATE, a write function: no table row to give back.
  if (facts.writeTables.length === 0) return null;
  const table = facts.writeTables[0]!;
  if (facts.insert) {
    const ins = facts.insert;
    if (ins.fromSelect || ins.onConflict || ins.rowsUnread || ins.columns.length === 0)
      return { reason: 'an INSERT needs a column list and VALUES rows (no SELECT, no ON CONFLICT)' };
    const rows: Values[] = [];
    for (const row of ins.rows) {
      const values = new Map<string, string | null>();
      for (const [i, column] of ins.columns.entries()) {
        const ref = row[i];
        if (!ref) continue; // an expression: not available to the template
        const v = resolve(ref);
        if (v !== undefined) values.set(column.toLowerCase(), v);
      }
      rows.push(values);
    }
    return { kind: 'insert', table, rows };
  }
  const values = new Map<string, string | null>();
  for (const k of facts.keyConditions) {
    if (k.table !== table || k.values.length !== 1 || k.arrayParam !== undefined) continue;
    const v = resolve(k.values[0]!);
    if (v !== undefined) values.set(k.column.toLowerCase(), v);
  }
  const update = (facts.assignments ?? []).filter((a) => a.table === table);
  for (const a of update) {
    if (!a.value) continue;
    const v = resolve(a.value);
    if (v !== undefined) values.set(`new_${a.column.toLowerCase()}`, v);
  }
  return { kind: facts.assignments ? 'update' : 'delete', table, rows: [values] };
}

/** The compensating templates of a table, per statement kind (dataTypes.*.compensations). */
export type TableCompensations = Partial<Record<CompensatedKind, string>>;

interface CompensatingDataType {
  crossShard: string;
  tables: readonly string[];
  compensations?: Readonly<Record<string, TableCompensations>>;
}

/** What undoes one write: its compensating statements, or why there are none. */
export type CompensationNote = { sql: string[] } | { reason: string };

/**
 * The compensating statements of a write inside a transaction; null when it writes no row.
 * A write whose data type does not choose compensate, or whose kind has no template, or whose
 * values the template names are missing, gets a reason: its transaction commits with two-phase
 * commit instead (compensate only ever relaxes two_phase where the application said how).
 */
export function compensationFor(
  facts: StatementFacts,
  resolve: (ref: ValueRef) => string | null | undefined,
  dataTypes: Readonly<Record<string, CompensatingDataType>>,
  quote: QuoteLiteral = pgLiteral,
): CompensationNote | null {
  const values = statementValues(facts, resolve);
  if (values === null) return null;
  if ('reason' in values) return values;
  const { table, kind } = values;
  const owner = Object.entries(dataTypes).find(([, d]) => d.tables.includes(table));
  if (!owner) return { reason: `table ${table} is in no data type (crossShard: compensate needs one)` };
  const [name, dataType] = owner;
  if (dataType.crossShard !== 'compensate')
    return { reason: `data type ${name} has crossShard: ${dataType.crossShard}` };
  const template = dataType.compensations?.[table]?.[kind];
  if (!template) return { reason: `data type ${name} declares no ${kind} compensation for ${table}` };
  try {
    return { sql: values.rows.map((row) => fillTemplate(template, row, quote)) };
  } catch (err) {
    return { reason: `the ${kind} compensation of ${table}: ${(err as Error).message} in the statement` };
  }
}
