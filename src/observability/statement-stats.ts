// Per-statement statistics across shards, like pg_stat_statements: per fingerprint (literals
// replaced by placeholders), calls, errors, total/min/max time, rows, the shards it ran on and the
// levels and roles it was routed to. Bounded in bytes: past the bound the least-called tenth of the
// entries goes (pg_stat_statements deallocates the least-executed the same way).

/** Longest fingerprint text kept (longer ones are cut; the key stays the full text's). */
const MAX_TEXT = 2_000;
/** Bytes an entry costs besides its text (object, maps, numbers): an estimate. */
const ENTRY_OVERHEAD = 400;
const PER_LABEL = 80;

export interface StatementSample {
  protocol: 'postgres' | 'mysql';
  fingerprint: string;
  shard: string;
  role: 'primary' | 'replica';
  level: string | null;
  outcome: 'ok' | 'error';
  latencySeconds: number;
  /** Rows returned or affected (CommandComplete), null when unknown. */
  rows: number | null;
  /** One part of a multi-shard statement: the call is counted on part 0 only. */
  part: number | null;
}

export interface StatementStatRow {
  protocol: 'postgres' | 'mysql';
  query: string;
  calls: number;
  errors: number;
  totalMs: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  rows: number;
  /** Calls that ran on several shards. */
  scatterCalls: number;
  /** Executions per shard (a multi-shard call counts on each shard). */
  shards: Record<string, number>;
  levels: Record<string, number>;
  roles: { primary: number; replica: number };
  lastAt: string;
}

/** What a row reports, kept as counters (times in seconds, labels in maps). */
interface Entry
  extends Pick<StatementStatRow, 'protocol' | 'calls' | 'errors' | 'rows' | 'scatterCalls' | 'roles'> {
  text: string;
  totalSeconds: number;
  minSeconds: number;
  maxSeconds: number;
  shards: Map<string, number>;
  levels: Map<string, number>;
  lastAt: number;
  bytes: number;
}

export type StatementSort = 'total' | 'calls' | 'mean' | 'rows' | 'errors';

export class StatementStats {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private evicted = 0;

  constructor(
    private maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.trim();
  }

  record(s: StatementSample): void {
    const key = s.fingerprint;
    let e = this.entries.get(key);
    if (e === undefined) {
      const text = key.length > MAX_TEXT ? key.slice(0, MAX_TEXT) : key;
      e = {
        protocol: s.protocol,
        text,
        calls: 0,
        errors: 0,
        totalSeconds: 0,
        minSeconds: Number.POSITIVE_INFINITY,
        maxSeconds: 0,
        rows: 0,
        scatterCalls: 0,
        shards: new Map(),
        levels: new Map(),
        roles: { primary: 0, replica: 0 },
        lastAt: 0,
        bytes: ENTRY_OVERHEAD + (key.length + text.length) * 2,
      };
      this.entries.set(key, e);
      this.bytes += e.bytes;
    }
    const firstPart = s.part === null || s.part === 0;
    if (firstPart) {
      e.calls++;
      if (s.part !== null) e.scatterCalls++;
      if (s.outcome === 'error') e.errors++;
      e.totalSeconds += s.latencySeconds;
      if (s.latencySeconds < e.minSeconds) e.minSeconds = s.latencySeconds;
      if (s.latencySeconds > e.maxSeconds) e.maxSeconds = s.latencySeconds;
      if (s.level !== null) this.bump(e, e.levels, s.level);
    }
    if (s.rows !== null && s.rows > 0) e.rows += s.rows;
    this.bump(e, e.shards, s.shard);
    e.roles[s.role]++;
    e.lastAt = this.now();
    if (this.bytes > this.maxBytes) this.trim();
  }

  /** The top entries by `sort`. */
  top(limit: number, sort: StatementSort = 'total'): StatementStatRow[] {
    const key: Record<StatementSort, (e: Entry) => number> = {
      total: (e) => e.totalSeconds,
      calls: (e) => e.calls,
      mean: (e) => (e.calls > 0 ? e.totalSeconds / e.calls : 0),
      rows: (e) => e.rows,
      errors: (e) => e.errors,
    };
    const by = key[sort];
    return [...this.entries.values()]
      .sort((a, b) => by(b) - by(a))
      .slice(0, limit)
      .map((e) => ({
        protocol: e.protocol,
        query: e.text,
        calls: e.calls,
        errors: e.errors,
        totalMs: e.totalSeconds * 1000,
        meanMs: e.calls > 0 ? (e.totalSeconds / e.calls) * 1000 : 0,
        minMs: e.calls > 0 ? e.minSeconds * 1000 : 0,
        maxMs: e.maxSeconds * 1000,
        rows: e.rows,
        scatterCalls: e.scatterCalls,
        shards: Object.fromEntries(e.shards),
        levels: Object.fromEntries(e.levels),
        roles: { ...e.roles },
        lastAt: new Date(e.lastAt).toISOString(),
      }));
  }

  stats(): { entries: number; bytes: number; maxBytes: number; evicted: number } {
    return { entries: this.entries.size, bytes: this.bytes, maxBytes: this.maxBytes, evicted: this.evicted };
  }

  reset(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private bump(e: Entry, map: Map<string, number>, label: string): void {
    const n = map.get(label);
    if (n === undefined) {
      map.set(label, 1);
      e.bytes += PER_LABEL + label.length * 2;
      this.bytes += PER_LABEL + label.length * 2;
    } else map.set(label, n + 1);
  }

  /** Drops the least-called entries until a tenth of the bound is free. */
  private trim(): void {
    if (this.bytes <= this.maxBytes) return;
    const target = this.maxBytes * 0.9;
    const order = [...this.entries].sort((a, b) => a[1].calls - b[1].calls || a[1].lastAt - b[1].lastAt);
    for (const [key, e] of order) {
      if (this.bytes <= target) break;
      this.entries.delete(key);
      this.bytes -= e.bytes;
      this.evicted++;
    }
  }
}
