// Verification of a split: for every moved table, the rows of S whose shard key lies in the
// moved ranges against T1 ∪ T2, chunk by chunk in primary-key order (chunkRows keys of S per
// chunk, plus an open last chunk that catches target rows past S's last key). A chunk compares
// row counts and an order-independent checksum, the sum of a 60-bit prefix of md5(row::text) as
// numeric, so the targets' partial sums add up to the source's. A target row outside its own
// range counts as a difference too (it would be a row on the wrong shard). A differing chunk is
// checked again after each of up to `rounds` settle() calls (the caller lets the capture catch
// up, so concurrent writes are no alarm); rows that still differ are compared once more with the
// targets' versions held still by row locks while the capture catches up (exact under any write
// rate), and reported by table and key range if they persist.
// A reference table is compared with each target on its own (each holds every row), an unsharded
// table with the first target only. Whole-table row counts are compared in every mode, so a
// sampled verification still notices a row missing from a chunk it did not sample.
import type pg from 'pg';
import type { KeyRange } from '../domain/keyspace.js';
import { openClient } from './pg-connect.js';
import { inRangesSql, tableKind } from './row-owner.js';
import {
  keyFromTextRow,
  keysetPageSql,
  loadTableMeta,
  pkExpr,
  pkParams,
  pkTextColumns,
  type TableMeta,
} from './table-meta.js';
import type { ChunkMismatch, MovedTable, ServerAddress, SplitTarget, VerifyReport } from './types.js';

export interface VerifyOptions {
  source: ServerAddress;
  targets: readonly SplitTarget[];
  tables: readonly MovedTable[];
  /** full: every chunk; sample: `sample` chunks drawn at random over all tables. */
  mode?: 'full' | 'sample';
  sample?: number;
  chunkRows?: number;
  /** Awaited before each re-check of a differing chunk (e.g. the reverse capture's catchUp). */
  settle?: () => Promise<void>;
  /**
   * The part of the targets this source accounts for: a merge verifies each source against the
   * rows of its own range on the merged target (the other source's rows are not its business).
   */
  targetScope?: readonly KeyRange[];
  /** Re-checks of a differing chunk before it is reported (default 3). */
  rounds?: number;
  signal?: AbortSignal;
  /** For sampling; Math.random by default. */
  random?: () => number;
}

interface Chunk {
  table: string;
  meta: TableMeta;
  moved: MovedTable;
  from: string[] | null;
  to: string[] | null;
  /** Indexes of the targets whose owned rows, together, must equal the source's rows. */
  targets: number[];
}

/** The groups of targets a table's source rows are compared with (see the header). */
function comparisons(moved: MovedTable, targets: number): number[][] {
  const all = [...Array(targets).keys()];
  const kind = tableKind(moved);
  if (kind === 'reference') return all.map((i) => [i]);
  if (kind === 'unsharded') return [[0]];
  return [all];
}

interface ChunkCounts {
  sourceRows: number;
  sourceSum: bigint;
  targetRows: number;
  targetSum: bigint;
  strays: number;
}

const ROW_HASH = `('x' || substr(md5(t::text), 1, 15))::bit(60)::int8`;

function keyRange(meta: TableMeta, from: string[] | null, to: string[] | null) {
  const conds: string[] = [];
  const params: string[] = [];
  if (from) {
    conds.push(`${pkExpr(meta, 't')} > ${pkParams(meta, params.length + 1)}`);
    params.push(...from);
  }
  if (to) {
    conds.push(`${pkExpr(meta, 't')} <= ${pkParams(meta, params.length + 1)}`);
    params.push(...to);
  }
  return { sql: conds.length ? conds.join(' AND ') : 'true', params };
}

class Verifier {
  private source!: pg.Client;
  private targets: pg.Client[] = [];

  constructor(private readonly o: VerifyOptions) {}

  async open(): Promise<void> {
    this.source = await openClient(this.o.source, 'migration-verify');
    for (const t of this.o.targets) this.targets.push(await openClient(t.server, 'migration-verify'));
  }

  async close(): Promise<void> {
    await Promise.all([this.source, ...this.targets].map((c) => c?.end().catch(() => undefined)));
  }

  /** The source rows that moved: a sharded table's in the targets' ranges, every other table's all. */
  private movedSql(m: MovedTable): string {
    if (tableKind(m) !== 'sharded') return 'true';
    return inRangesSql(
      m.shardKey,
      m.keyType,
      this.o.targets.map((t) => t.range),
      't',
    );
  }

  /** The rows target i must hold of the table. */
  private ownedSql(m: MovedTable, i: number): string {
    if (tableKind(m) !== 'sharded') return 'true';
    return inRangesSql(m.shardKey, m.keyType, [this.o.targets[i]!.range], 't');
  }

  /** The target rows this verification looks at: all, or a sharded table's in the scope. */
  private scopeSql(m: MovedTable): string {
    if (!this.o.targetScope || tableKind(m) !== 'sharded') return 'true';
    return inRangesSql(m.shardKey, m.keyType, this.o.targetScope, 't');
  }

  /** Whole-table counts: rows of S that moved, and the group's owned and stray rows. */
  async sourceCount(moved: MovedTable): Promise<number> {
    const meta = await loadTableMeta(this.source, moved.name);
    const r = await this.source.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${meta.qualified} t WHERE ${this.movedSql(moved)}`,
    );
    return Number(r.rows[0]?.n ?? 0);
  }

  async targetCount(moved: MovedTable, group: number[]): Promise<{ owned: number; strays: number }> {
    const out = { owned: 0, strays: 0 };
    for (const i of group) {
      const c = this.targets[i]!;
      const meta = await loadTableMeta(c, moved.name);
      const r = await c.query<{ n: string; stray: string }>(
        `SELECT count(*) FILTER (WHERE owned)::text AS n, count(*) FILTER (WHERE NOT owned)::text AS stray
           FROM (SELECT ${this.ownedSql(moved, i)} AS owned FROM ${meta.qualified} t
                  WHERE ${this.scopeSql(moved)}) x`,
      );
      out.owned += Number(r.rows[0]?.n ?? 0);
      out.strays += Number(r.rows[0]?.stray ?? 0);
    }
    return out;
  }

  /** Chunk boundaries: every chunkRows-th key of the moved rows of S, in key order. */
  async chunks(moved: MovedTable, chunkRows: number): Promise<Chunk[]> {
    const meta = await loadTableMeta(this.source, moved.name);
    const bounds: string[][] = [];
    let last: string[] | null = null;
    for (;;) {
      const page = keysetPageSql(meta, this.movedSql(moved), last !== null, chunkRows);
      const r: pg.QueryResult<Record<string, string | null>> = await this.source.query(
        `SELECT ${pkTextColumns(meta, 's')}, count(*) OVER ()::text AS n FROM (${page}) s
          ORDER BY ${meta.primaryKey.map((c) => `s."${c.name.replace(/"/g, '""')}" DESC`).join(', ')} LIMIT 1`,
        last ?? [],
      );
      const row = r.rows[0];
      if (!row) break;
      last = keyFromTextRow(meta, row);
      bounds.push(last);
      if (Number(row.n) < chunkRows) break;
    }
    const chunks: Chunk[] = [];
    for (const targets of comparisons(moved, this.targets.length)) {
      let from: string[] | null = null;
      for (const b of bounds) {
        chunks.push({ table: moved.name, meta, moved, from, to: b, targets });
        from = b;
      }
      chunks.push({ table: moved.name, meta, moved, from, to: null, targets });
    }
    return chunks;
  }

  async count(chunk: Chunk): Promise<ChunkCounts> {
    const { meta, moved } = chunk;
    const range = keyRange(meta, chunk.from, chunk.to);
    // Targets first, then the source: with the reverse capture running, S is the one behind.
    const perTarget = await Promise.all(
      chunk.targets.map((i) =>
        this.targets[i]!.query<{ n: string; s: string; stray: string }>(
          `SELECT count(*) FILTER (WHERE owned)::text AS n,
                  coalesce(sum(h) FILTER (WHERE owned), 0)::text AS s,
                  count(*) FILTER (WHERE NOT owned)::text AS stray
             FROM (SELECT ${ROW_HASH} AS h, ${this.ownedSql(moved, i)} AS owned
                     FROM ${meta.qualified} t WHERE ${range.sql} AND ${this.scopeSql(moved)}) x`,
          range.params,
        ),
      ),
    );
    const src = await this.source.query<{ n: string; s: string }>(
      `SELECT count(*)::text AS n, coalesce(sum(${ROW_HASH}), 0)::text AS s
         FROM ${meta.qualified} t WHERE ${this.movedSql(moved)} AND ${range.sql}`,
      range.params,
    );
    const counts: ChunkCounts = {
      sourceRows: Number(src.rows[0]?.n ?? 0),
      sourceSum: BigInt(src.rows[0]?.s ?? '0'),
      targetRows: 0,
      targetSum: 0n,
      strays: 0,
    };
    for (const r of perTarget) {
      counts.targetRows += Number(r.rows[0]?.n ?? 0);
      counts.targetSum += BigInt(r.rows[0]?.s ?? '0');
      counts.strays += Number(r.rows[0]?.stray ?? 0);
    }
    return counts;
  }

  /** The WHERE clause, its parameters and the key text of a chunk's rows (or of the rows `only` names). */
  private rowScope(chunk: Chunk, only: string[][] | null) {
    const { meta } = chunk;
    const range = keyRange(meta, chunk.from, chunk.to);
    let where = range.sql;
    let params: string[] = range.params;
    if (only) {
      const width = meta.primaryKey.length;
      const tuples = only.map((_, i) => pkParams(meta, i * width + 1));
      where = `${pkExpr(meta, 't')} IN (${tuples.join(', ')})`;
      params = only.flat();
    }
    const keyText = meta.primaryKey
      .map((c) => `t."${c.name.replace(/"/g, '""')}"::text`)
      .join(` || E'\\x1f' || `);
    return { where, params, keyText };
  }

  private async readSource(chunk: Chunk, only: string[][] | null): Promise<RowHashes> {
    const { where, params, keyText } = this.rowScope(chunk, only);
    const r = await this.source.query<{ k: string; h: string }>(
      `SELECT ${keyText} AS k, ${ROW_HASH}::text AS h FROM ${chunk.meta.qualified} t
        WHERE ${where} AND ${this.movedSql(chunk.moved)}`,
      params,
    );
    return new Map(r.rows.map((row) => [row.k, row.h]));
  }

  /** The chunk's target group's rows; `lock` takes FOR SHARE row locks in their open transactions. */
  private async readTargets(chunk: Chunk, only: string[][] | null, lock = false): Promise<RowHashes> {
    const { where, params, keyText } = this.rowScope(chunk, only);
    const targets: RowHashes = new Map();
    for (const i of chunk.targets) {
      const owned = this.ownedSql(chunk.moved, i);
      const rows = await this.targets[i]!.query<{ k: string; h: string; owned: boolean }>(
        `SELECT ${keyText} AS k, ${ROW_HASH}::text AS h, ${owned} AS owned FROM ${chunk.meta.qualified} t
          WHERE ${where} AND ${this.scopeSql(chunk.moved)}${lock ? ' FOR SHARE OF t' : ''}`,
        params,
      );
      for (const row of rows.rows)
        targets.set(row.k, row.owned ? row.h : `stray on ${this.o.targets[i]!.shard}`);
    }
    return targets;
  }

  /** Per-row hashes of a chunk (or of the rows `only` names) on S and on the targets. */
  async rowHashes(
    chunk: Chunk,
    only: string[][] | null,
    settle?: () => Promise<void>,
  ): Promise<[RowHashes, RowHashes, RowHashes]> {
    // The source trails the targets (reverse capture): a row it holds is right if it matches the
    // targets' version just before or just after it was read.
    // Between the two, the reverse capture settles: S then holds at least what `before` saw.
    const before = await this.readTargets(chunk, only);
    await settle?.();
    const source = await this.readSource(chunk, only);
    const after = await this.readTargets(chunk, only);
    return [source, before, after];
  }

  /**
   * The exact check for rows that kept differing while writers changed them: the rows are held
   * still on the targets (FOR SHARE, so no new version can commit), the capture catches up past
   * that moment, and then S must hold exactly the targets' version. Without it, a row updated
   * faster than the capture's lag may never match either of the two reads around S's read, and a
   * busy machine reported a clean split as differing. Writers of these few rows wait for the
   * catch-up at most. Returns null when the locks could not be had in time (try again later).
   */
  async lockedRowHashes(
    chunk: Chunk,
    keys: string[][],
    settle: () => Promise<void>,
  ): Promise<[RowHashes, RowHashes] | null> {
    const opened: pg.Client[] = [];
    try {
      for (const i of chunk.targets) {
        const c = this.targets[i]!;
        await c.query("BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '2s'");
        opened.push(c);
      }
      let targets: RowHashes;
      try {
        targets = await this.readTargets(chunk, keys, true);
      } catch (err) {
        if ((err as { code?: string }).code === '55P03') return null; // lock_not_available
        throw err;
      }
      await settle();
      const source = await this.readSource(chunk, keys);
      return [source, targets];
    } finally {
      for (const c of opened) await c.query('ROLLBACK').catch(() => undefined);
    }
  }
}

/**
 * The table's row count on S against its target group's, at one logical point: the targets are
 * counted, the reverse capture settles, S is counted, the targets again. Under concurrent writes S
 * lies between the two target counts; a count outside them (or a stray row) in every round is a
 * difference.
 */
async function wholeTableCount(
  verifier: Verifier,
  moved: MovedTable,
  group: number[],
  rounds: number,
  settle: (() => Promise<void>) | undefined,
): Promise<{ equal: boolean; sourceRows: number; targetRows: number }> {
  let last = { equal: false, sourceRows: 0, targetRows: 0 };
  for (let round = 0; round <= rounds; round++) {
    const before = await verifier.targetCount(moved, group);
    if (round > 0) await settle?.();
    const sourceRows = await verifier.sourceCount(moved);
    const after = await verifier.targetCount(moved, group);
    const low = Math.min(before.owned, after.owned);
    const high = Math.max(before.owned, after.owned);
    const strays = Math.max(before.strays, after.strays);
    last = {
      equal: strays === 0 && sourceRows >= low && sourceRows <= high,
      sourceRows,
      targetRows: after.owned + after.strays,
    };
    if (last.equal) return last;
  }
  return last;
}

/** Row hashes by primary key (as text joined with a NUL); strays get a hash no source row has. */
type RowHashes = Map<string, string>;
/** Between the key columns of a composite key (unit separator: never inside a key's text). */
const KEY_SEP = '\u001f';

class RowDiffer {
  constructor(
    private readonly verifier: Verifier,
    private readonly chunk: Chunk,
  ) {}

  /** Keys whose row differs between S and T1 ∪ T2, within the chunk or among `only`. */
  async differing(only: string[][] | null, settle?: () => Promise<void>): Promise<string[][]> {
    const [source, before, after] = await this.verifier.rowHashes(this.chunk, only, settle);
    const out: string[][] = [];
    for (const key of new Set([...source.keys(), ...before.keys(), ...after.keys()])) {
      const held = source.get(key);
      if (held !== before.get(key) && held !== after.get(key)) out.push(key.split(KEY_SEP));
    }
    return out;
  }

  /** The rows of `keys` that still differ with the targets' rows held still (see lockedRowHashes). */
  async confirmed(keys: string[][], settle: () => Promise<void>, attempts: number): Promise<string[][]> {
    for (let i = 0; i < attempts; i++) {
      const held = await this.verifier.lockedRowHashes(this.chunk, keys, settle);
      if (!held) continue;
      const [source, targets] = held;
      const out: string[][] = [];
      for (const key of new Set([...source.keys(), ...targets.keys()]))
        if (source.get(key) !== targets.get(key)) out.push(key.split(KEY_SEP));
      return out;
    }
    return keys;
  }
}

function equal(c: ChunkCounts): boolean {
  return c.sourceRows === c.targetRows && c.sourceSum === c.targetSum && c.strays === 0;
}

function pickSample<T>(items: T[], n: number, random: () => number): T[] {
  if (n >= items.length) return items;
  const pool = [...items];
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n);
}

export async function verifySplit(o: VerifyOptions): Promise<VerifyReport> {
  const chunkRows = Math.max(1, Math.floor(o.chunkRows ?? 1000));
  const rounds = Math.max(0, o.rounds ?? 3);
  const mode = o.mode ?? 'full';
  const verifier = new Verifier(o);
  const report: VerifyReport = { mode, chunksChecked: 0, rowsChecked: 0, mismatches: [], perTable: [] };
  try {
    await verifier.open();
    let chunks: Chunk[] = [];
    for (const t of o.tables) chunks.push(...(await verifier.chunks(t, chunkRows)));
    if (mode === 'sample') chunks = pickSample(chunks, Math.max(1, o.sample ?? 1), o.random ?? Math.random);
    for (const chunk of chunks) {
      if (o.signal?.aborted) break;
      const counts = await verifier.count(chunk);
      report.chunksChecked++;
      report.rowsChecked += counts.sourceRows;
      if (!equal(counts)) {
        // A chunk that keeps differing under writes: narrow it to rows, and re-check only those.
        // Rows written between the targets' read and the source's keep moving; a row that
        // differs in every round did not come from a concurrent write.
        const differ = new RowDiffer(verifier, chunk);
        let rows = await differ.differing(null);
        for (let round = 0; round < rounds && rows.length > 0; round++) {
          rows = await differ.differing(rows, o.settle);
        }
        if (rows.length > 0 && o.settle) rows = await differ.confirmed(rows, o.settle, Math.max(1, rounds));
        if (rows.length === 0) continue;
        const mismatch: ChunkMismatch = {
          table: chunk.table,
          fromKey: chunk.from,
          toKey: chunk.to,
          sourceRows: counts.sourceRows,
          targetRows: counts.targetRows + counts.strays,
          rows: rows.slice(0, 10),
          ...(chunk.targets.length === 1 && o.targets.length > 1
            ? { target: o.targets[chunk.targets[0]!]!.shard }
            : {}),
        };
        report.mismatches.push(mismatch);
      }
    }
    // Whole-table counts, in every mode: a sample of chunks must not hide a missing row.
    for (const t of o.tables) {
      if (o.signal?.aborted) break;
      const totals = { table: t.name, sourceRows: 0, targetRows: 0 };
      let farthest = -1;
      for (const group of comparisons(t, o.targets.length)) {
        const whole = await wholeTableCount(verifier, t, group, rounds, o.settle);
        // A reference table: the target whose count is farthest from the source's speaks.
        const distance = Math.abs(whole.targetRows - whole.sourceRows);
        if (distance > farthest) {
          farthest = distance;
          totals.sourceRows = whole.sourceRows;
          totals.targetRows = whole.targetRows;
        }
        if (!whole.equal) {
          const named =
            group.length === 1 && o.targets.length > 1 ? { target: o.targets[group[0]!]!.shard } : {};
          report.mismatches.push({
            table: t.name,
            fromKey: null,
            toKey: null,
            sourceRows: whole.sourceRows,
            targetRows: whole.targetRows,
            wholeTable: true,
            ...named,
          });
        }
      }
      report.perTable.push(totals);
    }
  } finally {
    await verifier.close();
  }
  return report;
}
