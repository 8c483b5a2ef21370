// The history's embedded store: one append-only JSON-lines file (dir/history.jsonl), one record a
// line. Why not SQLite: at one record per shard a minute the file stays small, appends are atomic
// enough (a torn last line after a crash is skipped on read), it needs no native module (the
// better-sqlite3 builds differ per Node release and v13 crashes on this Node 20), and queries
// are time-range scans that a streamed read answers. Retention and the byte bound are kept by
// compaction: the kept lines are written to a temporary file that replaces the old one.
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** A stored record: a shard sample or an alert event, with its time (epoch ms). */
export interface HistoryRecord {
  type: string;
  t: number;
  shard?: string;
  [key: string]: unknown;
}

export interface HistoryQuery {
  type?: string;
  shard?: string;
  from?: number;
  to?: number;
  /** Most records returned (the newest are kept). */
  limit?: number;
}

export interface HistoryStoreOptions {
  dir: string;
  retentionMs: number;
  maxBytes: number;
  now?: () => number;
}

const FILE = 'history.jsonl';

export class HistoryStore {
  readonly file: string;
  private bytes = 0;
  private ready: Promise<void>;
  /** Writes and compactions run one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: HistoryStoreOptions) {
    this.file = path.join(options.dir, FILE);
    this.now = options.now ?? Date.now;
    this.ready = this.openFile();
  }

  private async openFile(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    this.bytes = await stat(this.file).then(
      (s) => s.size,
      () => 0,
    );
    // A line torn by a crash has no newline: end it, or the next record would be glued to it.
    if (this.bytes > 0) {
      const handle = await open(this.file, 'r');
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, this.bytes - 1).finally(() => handle.close());
      if (last[0] !== 0x0a) {
        await appendFile(this.file, '\n');
        this.bytes++;
      }
    }
  }

  /** Appends records; compacts first when the file would pass its byte bound. */
  append(records: readonly HistoryRecord[]): Promise<void> {
    if (records.length === 0) return this.chain;
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    const size = Buffer.byteLength(text);
    const run = async () => {
      await this.ready;
      if (this.bytes + size > this.options.maxBytes) await this.compact(size);
      await appendFile(this.file, text);
      this.bytes += size;
    };
    this.chain = this.chain.then(run, run);
    return this.chain;
  }

  /** Drops records older than the retention, then the oldest until `room` more bytes fit in 3/4 of the bound. */
  compact(room = 0): Promise<void> {
    const run = async () => {
      await this.ready;
      const cutoff = this.now() - this.options.retentionMs;
      const kept: string[] = [];
      let keptBytes = 0;
      await this.scan((line, record) => {
        if (record.t < cutoff) return;
        kept.push(line);
        keptBytes += Buffer.byteLength(line) + 1;
      });
      const budget = Math.floor((this.options.maxBytes * 3) / 4) - room;
      let first = 0;
      while (keptBytes > budget && first < kept.length) {
        keptBytes -= Buffer.byteLength(kept[first]!) + 1;
        first++;
      }
      const body = kept
        .slice(first)
        .map((l) => `${l}\n`)
        .join('');
      const tmp = `${this.file}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, this.file);
      this.bytes = Buffer.byteLength(body);
    };
    // Called from inside append's run: do not queue behind ourselves.
    if (room > 0) return run();
    this.chain = this.chain.then(run, run);
    return this.chain;
  }

  /** Records matching the query, oldest first; waits for earlier appends. */
  async query(q: HistoryQuery = {}): Promise<HistoryRecord[]> {
    await this.chain.catch(() => undefined);
    const limit = Math.max(1, q.limit ?? 10_000);
    const out: HistoryRecord[] = [];
    await this.scan((_line, r) => {
      if (q.type !== undefined && r.type !== q.type) return;
      if (q.shard !== undefined && r.shard !== q.shard) return;
      if (q.from !== undefined && r.t < q.from) return;
      if (q.to !== undefined && r.t > q.to) return;
      out.push(r);
      // Bounded memory: keep the newest `limit`.
      if (out.length > limit * 2) out.splice(0, out.length - limit);
    });
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  private async scan(visit: (line: string, record: HistoryRecord) => void): Promise<void> {
    await this.ready;
    const stream = createReadStream(this.file, { encoding: 'utf8' });
    const missing = new Promise<boolean>((resolve) => {
      stream.once('error', () => resolve(true));
      stream.once('open', () => resolve(false));
    });
    if (await missing) return;
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
      if (line.length === 0) continue;
      let record: HistoryRecord;
      try {
        record = JSON.parse(line) as HistoryRecord;
      } catch {
        continue; // a line torn by a crash mid-append
      }
      if (typeof record?.t !== 'number' || typeof record.type !== 'string') continue;
      visit(line, record);
    }
  }
}
