// Sequences owned by moved tables (serial and identity columns). The copy and the capture move
// rows, never sequence positions: a target's sequence would restart at 1 and the first insert
// after the switch would collide with a copied key. Inside the cutover block (no write can reach
// the old side any more) the positions are carried over, one statement per server; a rollback
// carries them back the same way, taking the furthest position among the halves.
import type pg from 'pg';

export interface SequencePosition {
  /** Schema-qualified, quoted: usable as a regclass literal. */
  name: string;
  lastValue: string;
  isCalled: boolean;
}

/** Sequences owned by the given tables on this server (that exist here). */
export async function ownedSequences(c: pg.Client, tables: readonly string[]): Promise<string[]> {
  if (tables.length === 0) return [];
  const r = await c.query<{ name: string }>(
    `SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(s.relname) AS name
       FROM pg_class s
       JOIN pg_namespace n ON n.oid = s.relnamespace
       JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
      WHERE s.relkind = 'S'
        AND d.refobjid = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) t)
      ORDER BY 1`,
    [tables],
  );
  return r.rows.map((row) => row.name);
}

/** The positions of the sequences, in one statement. */
export async function readSequences(c: pg.Client, names: readonly string[]): Promise<SequencePosition[]> {
  if (names.length === 0) return [];
  const sql = names
    .map((n, i) => `SELECT ${i} AS i, last_value::text AS v, is_called AS called FROM ${n}`)
    .join(' UNION ALL ');
  const r = await c.query<{ i: number; v: string; called: boolean }>(sql);
  return r.rows
    .sort((a, b) => a.i - b.i)
    .map((row) => ({ name: names[row.i]!, lastValue: row.v, isCalled: row.called }));
}

/** The last value handed out (one below the first for a sequence never used). */
function used(p: SequencePosition): bigint {
  return BigInt(p.lastValue) - (p.isCalled ? 0n : 1n);
}

/** Per sequence, the furthest position among several servers' readings. */
export function furthest(readings: ReadonlyArray<readonly SequencePosition[]>): SequencePosition[] {
  const best = new Map<string, SequencePosition>();
  for (const list of readings)
    for (const p of list) {
      const seen = best.get(p.name);
      if (!seen || used(p) > used(seen)) best.set(p.name, p);
    }
  return [...best.values()];
}

/** Sets the positions (of the sequences this server has), in one statement. */
export async function writeSequences(
  c: pg.Client,
  positions: readonly SequencePosition[],
  present: ReadonlySet<string>,
): Promise<void> {
  const here = positions.filter((p) => present.has(p.name));
  if (here.length === 0) return;
  const calls = here.map((_, i) => `setval($${3 * i + 1}::regclass, $${3 * i + 2}::int8, $${3 * i + 3})`);
  await c.query(
    `SELECT ${calls.join(', ')}`,
    here.flatMap((p) => [p.name, p.lastValue, p.isCalled]),
  );
}
