// The result cache's optional shared tier in Redis (cache.shared.redis), for several shardgate
// instances in front of the same shards. Local memory stays the first tier; a local miss asks
// Redis before a server, and a fill is copied to Redis. Writes to write-through tables are
// published (PUBLISH on one channel), and every other instance drops those tables' local entries
// when the message arrives and learns the write's positions (its next fills read a primary until
// the replica has the write). Each table also has a generation key in Redis, changed by every
// write and read together with an entry (one MGET): an entry stored before the table's last write
// is not served, even by an instance the message has not reached yet.
// Redis is an accelerator, never a dependency: every call has a deadline, nothing queues while it
// is down (the offline queue is off), and any failure is a miss.
//
// Client: @redis/client, the core package of node-redis (the `redis` package is it plus modules
// for Redis Stack we do not use); maintained by Redis itself, typed, RESP3, reconnects on its own.
import { randomBytes } from 'node:crypto';
import { createClient, RESP_TYPES } from '@redis/client';
import type { Logger } from 'pino';

export interface SharedTierOptions {
  /** redis://... (may hold a password: never logged or shown). */
  redis: string;
  keyPrefix: string;
  /** Deadline of one lookup or write; past it the tier counts as failed for that call. */
  timeoutMs: number;
  /** Copies to Redis in flight at most; more are dropped (Redis slower than the proxy). */
  maxPendingWrites: number;
}

export interface SharedInvalidation {
  tables: string[];
  /** shard -> the primary's position after the write (absent while the write is running). */
  positions: Record<string, string>;
}

export interface SharedLookup {
  /** The stored response, or null (a miss). */
  value: Buffer | null;
  /** Remaining time to live of the value in ms. */
  ttlMs: number;
  /** The tables' generations now: a fill stores them with its value. */
  generations: string[];
  /** Positions of the last write to each table, as the writers recorded them. */
  positions: Array<Record<string, string>>;
}

export interface SharedTierStats {
  connected: boolean;
  hits: number;
  misses: number;
  stores: number;
  /** Calls that failed or missed their deadline (each served as a miss). */
  errors: number;
  /** Copies to Redis dropped because maxPendingWrites were in flight. */
  droppedWrites: number;
  invalidationsSent: number;
  invalidationsReceived: number;
}

const HEADER_LEN = 4;

type BufferClient = ReturnType<typeof createClient>;

export class SharedTier {
  /** Tells this instance's own messages from the others'. */
  private readonly origin = randomBytes(8).toString('hex');
  private readonly client: BufferClient;
  private readonly subscriber: BufferClient;
  private readonly channel: string;
  private pendingWrites = 0;
  private closed = false;
  private lastErrorLog = 0;
  private readonly counters = {
    hits: 0,
    misses: 0,
    stores: 0,
    errors: 0,
    droppedWrites: 0,
    invalidationsSent: 0,
    invalidationsReceived: 0,
  };

  constructor(
    private readonly options: SharedTierOptions,
    private readonly log: Logger,
    private readonly onInvalidate: (message: SharedInvalidation) => void,
  ) {
    this.channel = `${options.keyPrefix}invalidate`;
    this.client = createClient({
      url: options.redis,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: Math.max(1_000, options.timeoutMs),
        reconnectStrategy: (retries) => Math.min(100 * 2 ** Math.min(retries, 5), 3_000),
      },
    });
    this.subscriber = this.client.duplicate();
    for (const c of [this.client, this.subscriber]) c.on('error', (err: Error) => this.warn(err));
  }

  /** Connects in the background: until Redis answers, every call is a miss. */
  start(): void {
    this.client.connect().catch((err: Error) => this.warn(err));
    this.subscriber
      .connect()
      .then(() => this.subscriber.subscribe(this.channel, (message: string) => this.onMessage(message)))
      .catch((err: Error) => this.warn(err));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of [this.client, this.subscriber]) {
      if (c.isOpen) await c.close().catch(() => c.destroy());
    }
  }

  stats(): SharedTierStats {
    return { connected: this.client.isReady && this.subscriber.isReady, ...this.counters };
  }

  /** The entry and the tables' generations in one round trip; null when Redis did not answer. */
  async lookup(key: string, tables: readonly string[]): Promise<SharedLookup | null> {
    if (!this.client.isReady) return null;
    const keys = [this.entryKey(key), ...tables.map((t) => this.generationKey(t))];
    const replies = await this.deadline(() =>
      this.client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).mGet(keys),
    );
    if (replies === null) return null;
    const generationValues = replies.slice(1).map((r) => (r === null ? '' : r.toString('utf8')));
    const generations = generationValues.map((g) => g.split('|', 1)[0]!);
    const positions = generationValues.map(parsePositions);
    const stored = replies[0] ?? null;
    const value = stored === null ? null : decodeEntry(stored, generations);
    if (value === null) this.counters.misses++;
    else this.counters.hits++;
    return {
      value: value?.response ?? null,
      ttlMs: value ? value.expiresAt - Date.now() : 0,
      generations,
      positions,
    };
  }

  /** Copies a fill to Redis (in the background, bounded); `generations` are the lookup's. */
  store(key: string, generations: readonly string[], response: Buffer, ttlMs: number): void {
    if (!this.client.isReady || ttlMs <= 0) return;
    if (this.pendingWrites >= this.options.maxPendingWrites) {
      this.counters.droppedWrites++;
      return;
    }
    this.pendingWrites++;
    const value = encodeEntry(generations, Date.now() + ttlMs, response);
    void this.deadline(() =>
      this.client.set(this.entryKey(key), value, { expiration: { type: 'PX', value: ttlMs } }),
    )
      .then((ok) => {
        if (ok !== null) this.counters.stores++;
      })
      .finally(() => {
        this.pendingWrites--;
      });
  }

  /**
   * A write to these tables started (no positions yet) or ended: new generations, so no instance
   * serves an older entry from Redis, and a message, so every instance drops its local ones.
   */
  publishWrite(message: SharedInvalidation): void {
    if (!this.client.isReady || message.tables.length === 0) return;
    const generation = `${randomBytes(8).toString('hex')}|${formatPositions(message.positions)}`;
    this.counters.invalidationsSent++;
    void this.deadline(() => {
      const multi = this.client.multi();
      for (const t of message.tables) multi.set(this.generationKey(t), generation);
      multi.publish(this.channel, JSON.stringify({ origin: this.origin, ...message }));
      return multi.exec();
    });
  }

  private onMessage(raw: string): void {
    let m: { origin?: unknown; tables?: unknown; positions?: unknown };
    try {
      m = JSON.parse(raw) as typeof m;
    } catch {
      return;
    }
    if (m.origin === this.origin || !Array.isArray(m.tables)) return;
    const tables = m.tables.filter((t): t is string => typeof t === 'string');
    const positions: Record<string, string> = {};
    if (m.positions && typeof m.positions === 'object') {
      for (const [shard, p] of Object.entries(m.positions)) if (typeof p === 'string') positions[shard] = p;
    }
    this.counters.invalidationsReceived++;
    this.onInvalidate({ tables, positions });
  }

  private entryKey(key: string): string {
    return `${this.options.keyPrefix}e:${key}`;
  }

  private generationKey(table: string): string {
    return `${this.options.keyPrefix}g:${table}`;
  }

  /** The call's result, or null when it failed or missed the deadline (counted, logged sparingly). */
  private async deadline<T>(start: () => Promise<T>): Promise<T | null> {
    let call: Promise<T>;
    try {
      call = start();
    } catch (err) {
      this.counters.errors++;
      this.warn(err as Error);
      return null;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.options.timeoutMs);
      timer.unref();
    });
    try {
      const result = await Promise.race([call, timeout]);
      if (result === null) {
        this.counters.errors++;
        call.catch(() => undefined);
      }
      return result;
    } catch (err) {
      this.counters.errors++;
      this.warn(err as Error);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** At most one log line a minute: a Redis outage must not flood the logs. */
  private warn(err: Error): void {
    if (this.closed) return;
    const now = Date.now();
    if (now - this.lastErrorLog < 60_000) return;
    this.lastErrorLog = now;
    // The message only: the URL (which may hold a password) is never logged.
    this.log.warn(
      { err: err.message },
      'result cache shared tier (Redis) unavailable; serving from local memory',
    );
  }
}

function formatPositions(positions: Record<string, string>): string {
  return Object.entries(positions)
    .map(([shard, p]) => `${shard}=${p}`)
    .join(',');
}

function parsePositions(generationValue: string): Record<string, string> {
  const out: Record<string, string> = {};
  const bar = generationValue.indexOf('|');
  if (bar < 0) return out;
  for (const pair of generationValue.slice(bar + 1).split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** [u32 header length][JSON {g: generations, x: expiresAt}][response bytes]. */
function encodeEntry(generations: readonly string[], expiresAt: number, response: Buffer): Buffer {
  const header = Buffer.from(JSON.stringify({ g: generations, x: expiresAt }));
  const len = Buffer.alloc(HEADER_LEN);
  len.writeUInt32BE(header.length);
  return Buffer.concat([len, header, response]);
}

/** The response when the entry is whole, unexpired and stored under the current generations. */
function decodeEntry(
  stored: Buffer,
  generations: readonly string[],
): { response: Buffer; expiresAt: number } | null {
  if (stored.length < HEADER_LEN) return null;
  const len = stored.readUInt32BE(0);
  if (HEADER_LEN + len > stored.length) return null;
  let header: { g?: unknown; x?: unknown };
  try {
    header = JSON.parse(stored.toString('utf8', HEADER_LEN, HEADER_LEN + len)) as typeof header;
  } catch {
    return null;
  }
  if (typeof header.x !== 'number' || header.x <= Date.now() || !Array.isArray(header.g)) return null;
  if (header.g.length !== generations.length || header.g.some((g, i) => g !== generations[i])) return null;
  return { response: stored.subarray(HEADER_LEN + len), expiresAt: header.x };
}
