// Coalescing a batch of row changes (change-batch.ts): applying the coalesced batch, in its own
// order or any other, leaves the table exactly as applying every change one by one does.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../bench/lib/seeded-random.js';
import { coalesceChanges, hasUnchanged, keyText, type RowChange } from '../../src/migration/change-batch.js';
import type { TextRow } from '../../src/migration/row-owner.js';

type Table = Map<string, Record<string, string | null>>;

/** The destination's semantics: full images upsert, partial ones update where the row is. */
function apply(table: Table, c: RowChange): void {
  const k = keyText(c.key);
  if (c.op === 'delete') {
    table.delete(k);
    return;
  }
  if (!hasUnchanged(c.row)) {
    table.set(k, { ...(c.row as Record<string, string | null>) });
    return;
  }
  const row = table.get(k);
  if (!row) return;
  for (const [name, v] of Object.entries(c.row)) if (v !== undefined) row[name] = v;
}

const clone = (t: Table): Table => new Map([...t].map(([k, r]) => [k, { ...r }]));

/** Deterministic PRNG, so a failure names its seed. */
const rng = mulberry32;

const COLUMNS = ['id', 'a', 'b', 'c'];

/**
 * A start state and a change sequence a source could stream from it: inserts of absent keys,
 * full and partial (unchanged-TOAST) updates and deletes of present keys, primary-key changes
 * (a delete of the old key and an upsert of the new one), over few keys so they repeat.
 */
function scenario(seed: number): { start: Table; changes: RowChange[] } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const value = () => (r() < 0.1 ? null : pick(['x', 'y', 'z', "o'q", '\u001f', '']) + Math.floor(r() * 5));
  const keys = Array.from({ length: 2 + Math.floor(r() * 8) }, (_, i) => String(i));
  const full = (id: string): Record<string, string | null> => ({ id, a: value(), b: value(), c: value() });
  const start: Table = new Map();
  for (const id of keys) if (r() < 0.5) start.set(id, full(id));
  const source = clone(start);
  const changes: RowChange[] = [];
  const length = Math.floor(r() * 40);
  for (let n = 0; n < length; n++) {
    const id = pick(keys);
    const present = source.has(id);
    let c: RowChange;
    const roll = r();
    if (!present) c = { op: 'upsert', key: [id], row: full(id) };
    else if (roll < 0.25) c = { op: 'delete', key: [id] };
    else if (roll < 0.55) {
      // Partial image: some non-key columns unchanged (left out).
      const row: Record<string, string | null | undefined> = { id };
      for (const col of COLUMNS.slice(1)) row[col] = r() < 0.5 ? undefined : value();
      if (!hasUnchanged(row)) row.c = undefined;
      c = { op: 'upsert', key: [id], row };
    } else if (roll < 0.7) {
      // The primary key changes: the old key goes, the new one comes with the (updated) row.
      const to = pick(keys);
      if (to === id || source.has(to)) c = { op: 'upsert', key: [id], row: full(id) };
      else {
        const moved = { ...source.get(id)!, id: to, a: value() };
        apply(source, { op: 'delete', key: [id] });
        changes.push({ op: 'delete', key: [id] });
        c = { op: 'upsert', key: [to], row: moved };
      }
    } else c = { op: 'upsert', key: [id], row: full(id) };
    apply(source, c);
    changes.push(c);
  }
  return { start, changes };
}

const sorted = (t: Table) => [...t].sort(([a], [b]) => a.localeCompare(b));

describe('coalesceChanges', () => {
  it('keeps the last image per key, in last-change order', () => {
    const u = (id: string, a: string): RowChange => ({ op: 'upsert', key: [id], row: { id, a } });
    const out = coalesceChanges([
      u('1', 'a'),
      u('2', 'b'),
      u('1', 'c'),
      { op: 'delete', key: ['2'] },
      u('3', 'd'),
    ]);
    expect(out).toEqual([u('1', 'c'), { op: 'delete', key: ['2'] }, u('3', 'd')]);
  });

  it('insert or update then delete is a delete; delete then insert is the insert', () => {
    const ins: RowChange = { op: 'upsert', key: ['1'], row: { id: '1', a: 'x' } };
    const del: RowChange = { op: 'delete', key: ['1'] };
    expect(coalesceChanges([ins, del])).toEqual([del]);
    expect(coalesceChanges([del, ins])).toEqual([ins]);
  });

  it('fills an image without its unchanged values from the earlier image, not after a delete', () => {
    const full: RowChange = { op: 'upsert', key: ['1'], row: { id: '1', a: 'x', b: 'big' } };
    const partial: RowChange = { op: 'upsert', key: ['1'], row: { id: '1', a: 'y', b: undefined } };
    expect(coalesceChanges([full, partial])).toEqual([
      { op: 'upsert', key: ['1'], row: { id: '1', a: 'y', b: 'big' } },
    ]);
    expect(coalesceChanges([partial])).toEqual([partial]);
    const del: RowChange = { op: 'delete', key: ['1'] };
    expect(coalesceChanges([del, partial])).toEqual([del]);
    const twice = coalesceChanges([
      partial,
      { op: 'upsert', key: ['1'], row: { id: '1', a: undefined, b: 'n' } },
    ]);
    expect(twice).toEqual([{ op: 'upsert', key: ['1'], row: { id: '1', a: 'y', b: 'n' } }]);
  });

  it('tells composite keys apart exactly', () => {
    const a: RowChange = { op: 'delete', key: ['1,2', '3'] };
    const b: RowChange = { op: 'delete', key: ['1', '2,3'] };
    expect(coalesceChanges([a, b])).toHaveLength(2);
    expect(keyText(['a"', 'b'])).not.toBe(keyText(['a', '"b']));
  });

  it('random change sequences: coalesced, in any order and replayed, equals one by one', () => {
    for (let seed = 1; seed <= 3_000; seed++) {
      const { start, changes } = scenario(seed);
      const oneByOne = clone(start);
      for (const c of changes) apply(oneByOne, c);
      const coalesced = coalesceChanges(changes);
      const keys = new Set(coalesced.map((c) => keyText(c.key)));
      expect(keys.size, `seed ${seed}`).toBe(coalesced.length);
      const batched = clone(start);
      for (const c of coalesced) apply(batched, c);
      expect(sorted(batched), `seed ${seed}`).toEqual(sorted(oneByOne));
      // Keys are independent: reversed order gives the same, and so does a replay (idempotent).
      const reversed = clone(start);
      for (const c of [...coalesced].reverse()) apply(reversed, c);
      for (const c of coalesced) apply(reversed, c);
      expect(sorted(reversed), `seed ${seed}`).toEqual(sorted(oneByOne));
    }
  });

  it('random sequences of full images and deletes, valid on a source or not', () => {
    for (let seed = 1; seed <= 1_000; seed++) {
      const r = rng(seed * 7919);
      const changes: RowChange[] = Array.from({ length: Math.floor(r() * 60) }, () => {
        const id = String(Math.floor(r() * 6));
        const row: TextRow = { id, a: String(Math.floor(r() * 100)) };
        return r() < 0.3 ? { op: 'delete', key: [id] } : { op: 'upsert', key: [id], row };
      });
      const start: Table = new Map([['0', { id: '0', a: 'old' }]]);
      const oneByOne = clone(start);
      for (const c of changes) apply(oneByOne, c);
      const batched = clone(start);
      for (const c of coalesceChanges(changes)) apply(batched, c);
      expect(sorted(batched), `seed ${seed}`).toEqual(sorted(oneByOne));
    }
  });
});
