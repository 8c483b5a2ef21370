// What one multi-shard merge may hold in memory, counted in rows and in bytes over every shard's
// rows together (routing.maxMergeRows, routing.maxMergeBytes). The collectors charge each row as
// it arrives and drop it once the budget is spent; the runner then refuses the statement with a
// coded error instead of answering with part of the result or growing the process without bound.
import { ShardgateError } from '../errors.js';

/** Per-row bookkeeping besides the cell bytes: the row array and its cell Buffer objects. */
const ROW_OVERHEAD_BYTES = 64;
const CELL_OVERHEAD_BYTES = 80;

/** The part a collector sees: charge a row, learn whether it may be kept. */
export interface RowBudget {
  /** Charges one row of `bytes` payload bytes in `cells` cells; false: over budget, drop it. */
  take(bytes: number, cells: number): boolean;
}

export class MergeBudget implements RowBudget {
  rows = 0;
  bytes = 0;
  /** Which bound a row went past first, or null while within both. */
  exceeded: 'rows' | 'bytes' | null = null;

  constructor(
    readonly maxRows: number,
    readonly maxBytes: number,
  ) {}

  take(bytes: number, cells: number): boolean {
    if (this.exceeded) return false;
    const cost = bytes + ROW_OVERHEAD_BYTES + cells * CELL_OVERHEAD_BYTES;
    if (this.rows + 1 > this.maxRows) this.exceeded = 'rows';
    else if (this.bytes + cost > this.maxBytes) this.exceeded = 'bytes';
    else {
      this.rows++;
      this.bytes += cost;
      return true;
    }
    return false;
  }

  /** Throws the coded refusal when a row was dropped. */
  check(): void {
    if (this.exceeded === 'rows') throw new ShardgateError('MERGE_ROW_LIMIT', { limit: this.maxRows });
    if (this.exceeded === 'bytes') throw new ShardgateError('MERGE_MEMORY_LIMIT', { limit: this.maxBytes });
  }
}
