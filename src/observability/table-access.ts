// Per-table read counters for the routing advisor, bounded by bytes: table names come from
// client statements (a table need not exist to be named), so a client naming a million tables
// must not grow the map. Past the bound, the least-read of the oldest few cells makes room;
// cells that survive the look move to the back, so a popular table is not examined again soon.
import type { ConsistencyLevel } from '../config/schema.js';
import type { TableAccessCounters } from './advisor.js';
import { boundedKeyValue } from './hot-keys.js';

/** Longest table name kept as it is (PostgreSQL's and MySQL's own limits are 63 and 64 bytes). */
const MAX_NAME_CHARS = 128;
/** The cell object, its counters and the Map slot. */
const CELL_OVERHEAD_BYTES = 120;
/** Cells looked at for an eviction: the oldest ones, in insertion order. */
const EVICTION_SAMPLE = 16;

class AccessCell implements TableAccessCounters {
  level: ConsistencyLevel | null = null;
  reads = 0;
  scatterReads = 0;
  crossShardJoins = 0;
  constructor(
    readonly table: string,
    readonly bytes: number,
  ) {}
}

export class TableAccessMap {
  private readonly cells = new Map<string, AccessCell>();
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** Counts one read of `tables` (weight: 1/fanout for each target of a scatter). */
  record(tables: readonly string[], level: ConsistencyLevel | null, weight: number, scatter: boolean): void {
    for (let i = 0; i < tables.length; i++) {
      const cell = this.cell(tables[i]!);
      if (cell === null) continue;
      cell.level = level;
      cell.reads += weight;
      if (scatter) {
        cell.scatterReads += weight;
        if (tables.length > 1) cell.crossShardJoins += weight;
      }
    }
  }

  private cell(rawName: string): AccessCell | null {
    const found = this.cells.get(rawName);
    if (found !== undefined) return found;
    const name = rawName.length > MAX_NAME_CHARS ? boundedKeyValue(rawName) : rawName;
    const existing = this.cells.get(name);
    if (existing !== undefined) return existing;
    const bytes = name.length + CELL_OVERHEAD_BYTES;
    if (bytes > this.maxBytes) return null;
    while (this.bytes + bytes > this.maxBytes && this.cells.size > 0) this.evictOne();
    const cell = new AccessCell(name, bytes);
    this.cells.set(name, cell);
    this.bytes += bytes;
    return cell;
  }

  private evictOne(): void {
    const sample: AccessCell[] = [];
    for (const cell of this.cells.values()) {
      sample.push(cell);
      if (sample.length === EVICTION_SAMPLE) break;
    }
    let victim = sample[0]!;
    for (const cell of sample) if (cell.reads < victim.reads) victim = cell;
    for (const cell of sample) {
      this.cells.delete(cell.table);
      if (cell !== victim) this.cells.set(cell.table, cell);
    }
    this.bytes -= victim.bytes;
  }

  get approximateBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.cells.size;
  }

  /** Counters per table, by name. */
  snapshot(): TableAccessCounters[] {
    return [...this.cells.values()]
      .map((c) => ({
        table: c.table,
        level: c.level,
        reads: c.reads,
        scatterReads: c.scatterReads,
        crossShardJoins: c.crossShardJoins,
      }))
      .sort((a, b) => a.table.localeCompare(b.table));
  }

  clear(): void {
    this.cells.clear();
    this.bytes = 0;
  }
}
