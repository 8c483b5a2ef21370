// A paced writer pool with a client-side ledger, for the split load test (bench `split` and the
// migration integration test): inserts (likes, new ids) and updates (posts.title, each user owned
// by one writer so the last acknowledged value is well defined), plus readers at every level.
// Afterwards checkLedger() compares the ledger with the servers, straight, not through the proxy.
// Both protocols: the same statements and checks over sql-session.ts (pg or mysql2).
import { type KeyRange, rangeContains } from '../../src/domain/keyspace.js';
import { keyspaceIdFor } from '../../src/router/sharding/hash.js';
import {
  type BenchProtocol,
  classifyError,
  connectionLost,
  openSession,
  type SqlSession,
  withServer,
} from './sql-session.js';

/** The counters every writer with a ledger keeps (this pool, test/support/other-tables-writer.ts). */
export interface WriterTally {
  /** Sessions opened again after a lost connection (`reconnect`). */
  reconnects: number;
  writes: number;
  /** 40001 (cutover; MySQL errno 1213) errors; the writer retries with a new value. */
  retries: number;
  errors: string[];
}

export interface Ledger extends WriterTally {
  /** likes.id -> user_id of every insert the proxy acknowledged. */
  inserted: Map<number, number>;
  /** Inserts that failed: must not exist. */
  failedInserts: Set<number>;
  /** Inserts whose connection was lost before the answer (`reconnect`): there at most once, or not. */
  unknownInserts: Map<number, number>;
  /** user_id -> last acknowledged posts.title (a failed later update must not show). */
  titles: Map<number, string>;
  /** user_id -> a title sent since the last acknowledged one whose answer was lost (`reconnect`). */
  unknownTitles: Map<number, string>;
  reads: number;
  readErrors: string[];
  /** read_your_writes reads of the session's own insert that did not see it. */
  staleOwnReads: number;
  /** Write latency in ms, for the delay the block adds. */
  writeLatencies: number[];
  /** When each acknowledged write completed (epoch ms), same order as writeLatencies. */
  writeTimes: number[];
}

export interface WriterPoolOptions {
  /** Which of shardgate's ports the urls point at (default postgres). */
  protocol?: BenchProtocol;
  /** The proxy, or several instances of it: connection i (writers, then readers) uses url[i % n]. */
  url: string | string[];
  writers: number;
  readers: number;
  /** Target writes per second over all writers (paced, not a maximum). */
  writesPerSecond: number;
  /** Users whose rows are written (e.g. the ones on the shard being split). */
  users: number[];
  /** likes ids start here (one run's ids never collide with another's). */
  idBase: number;
  /**
   * A lost connection (the proxy killed and restarted) is no error: the write's outcome is noted as
   * unknown and the session opened again until it succeeds. Off: a lost connection is an error.
   */
  reconnect?: boolean;
}

const LEVELS = ['strong', 'read_your_writes', 'bounded', 'eventual', 'weak'];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function newLedger(): Ledger {
  return {
    inserted: new Map(),
    failedInserts: new Set(),
    unknownInserts: new Map(),
    titles: new Map(),
    unknownTitles: new Map(),
    reconnects: 0,
    writes: 0,
    retries: 0,
    errors: [],
    reads: 0,
    readErrors: [],
    staleOwnReads: 0,
    writeLatencies: [],
    writeTimes: [],
  };
}

export function startWriterPool(o: WriterPoolOptions): { ledger: Ledger; stop(): Promise<void> } {
  const ledger = newLedger();
  let stopped = false;
  let nextId = o.idBase;
  const perWriterInterval = (1000 * o.writers) / Math.max(1, o.writesPerSecond);
  const urls = Array.isArray(o.url) ? o.url : [o.url];
  const open = (i: number) => openSession(o.protocol ?? 'postgres', urls[i % urls.length]!);
  // With `reconnect`, retried until the proxy answers again (or the pool stops).
  const connect = async (i: number, setup?: string): Promise<SqlSession> => {
    for (;;) {
      try {
        const c = await open(i);
        if (setup) await c.query(setup);
        return c;
      } catch (err) {
        if (!o.reconnect || stopped) throw err;
        await sleep(50);
      }
    }
  };
  /** True when the connection is gone and `reconnect` is on: the caller opens a new session. */
  const lost = (err: unknown) => o.reconnect === true && connectionLost(err);
  const fail = (err: unknown, into: string[]) => {
    const { retry, code } = classifyError(err);
    if (retry) ledger.retries++;
    else into.push(`${code}: ${(err as Error).message}`);
  };
  const writer = async (w: number) => {
    const setup = "SET shardgate.consistency = 'read_your_writes'";
    let c = await connect(w, setup);
    const reopen = async () => {
      await c.end();
      ledger.reconnects++;
      c = await connect(w, setup);
    };
    const mine = o.users.filter((_, i) => i % o.writers === w);
    let seq = 0;
    let due = performance.now();
    while (!stopped) {
      due += perWriterInterval;
      const user = mine[seq % Math.max(1, mine.length)] ?? o.users[0]!;
      seq++;
      const started = performance.now();
      if (seq % 2 === 0) {
        const id = nextId++;
        let acked = false;
        try {
          await c.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)', [id, user]);
          acked = true;
          ledger.inserted.set(id, user);
          ledger.writes++;
          ledger.writeLatencies.push(performance.now() - started);
          ledger.writeTimes.push(Date.now());
          const r = await c.query('SELECT count(*) AS n FROM likes WHERE user_id = ? AND id = ?', [user, id]);
          ledger.reads++;
          if (Number(r.rows[0]?.n) !== 1) ledger.staleOwnReads++;
        } catch (err) {
          // A failed read of an acknowledged insert does not make the insert fail.
          if (lost(err)) {
            if (!acked) ledger.unknownInserts.set(id, user);
            await reopen();
          } else {
            if (!acked) ledger.failedInserts.add(id);
            fail(err, acked ? ledger.readErrors : ledger.errors);
          }
        }
      } else {
        const title = `w${w}-${seq}`;
        try {
          await c.query('UPDATE posts SET title = ? WHERE user_id = ?', [title, user]);
          ledger.titles.set(user, title);
          ledger.unknownTitles.delete(user);
          ledger.writes++;
          ledger.writeLatencies.push(performance.now() - started);
          ledger.writeTimes.push(Date.now());
        } catch (err) {
          if (lost(err)) {
            ledger.unknownTitles.set(user, title);
            await reopen();
          } else fail(err, ledger.errors);
        }
      }
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      else due = performance.now();
    }
    await c.end();
  };
  const reader = async (r: number) => {
    let c = await connect(o.writers + r);
    let n = r;
    while (!stopped) {
      const level = LEVELS[n % LEVELS.length]!;
      const user = o.users[(n * 7) % o.users.length]!;
      n++;
      try {
        await c.query(`SET shardgate.consistency = '${level}'`);
        await c.query('SELECT title FROM posts WHERE user_id = ?', [user]);
        ledger.reads++;
      } catch (err) {
        if (lost(err)) {
          await c.end();
          ledger.reconnects++;
          c = await connect(o.writers + r);
        } else fail(err, ledger.readErrors);
      }
      await sleep(5);
    }
    await c.end();
  };
  const loops = [
    ...Array.from({ length: o.writers }, (_, i) => writer(i)),
    ...Array.from({ length: o.readers }, (_, i) => reader(i)),
  ];
  return {
    ledger,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

export interface ShardServer {
  shard: string;
  range: KeyRange;
  host: string;
  port: number;
}

export interface LedgerReport {
  checkedInserts: number;
  checkedUsers: number;
  problems: string[];
}

/**
 * Every acknowledged insert exactly once, on the shard owning its key; no failed insert and no
 * row nobody wrote in [idBase, idBase + 1e9); every user's posts carry the last acknowledged title.
 * A write whose answer was lost with its connection may be there (once, in its place) or not.
 */
export async function checkLedger(
  ledger: Ledger,
  shards: ShardServer[],
  idBase: number,
  protocol: BenchProtocol = 'postgres',
): Promise<LedgerReport> {
  const problems: string[] = [];
  const likes = new Map<string, Map<number, number>>();
  const titles = new Map<string, Map<number, Set<string>>>();
  const users = [...ledger.titles.keys()];
  for (const s of shards) {
    await withServer(protocol, s, async (c) => {
      const r = await c.query('SELECT id, user_id FROM likes WHERE id >= ? AND id < ?', [
        idBase,
        idBase + 1_000_000_000,
      ]);
      likes.set(s.shard, new Map(r.rows.map((x) => [Number(x.id), Number(x.user_id)])));
      const t = users.length
        ? await c.query(
            `SELECT user_id, title FROM posts WHERE user_id IN (${users.map(() => '?').join(', ')})`,
            users,
          )
        : { rows: [] };
      const m = new Map<number, Set<string>>();
      for (const row of t.rows) {
        const set = m.get(Number(row.user_id)) ?? new Set<string>();
        set.add(String(row.title));
        m.set(Number(row.user_id), set);
      }
      titles.set(s.shard, m);
    });
  }
  const owner = (user: number) =>
    shards.find((s) => rangeContains(s.range, keyspaceIdFor(String(user), 'int')!))!.shard;
  for (const [id, user] of ledger.inserted) {
    const holders = [...likes].filter(([, m]) => m.has(id)).map(([shard]) => shard);
    const want = owner(user);
    if (holders.length !== 1 || holders[0] !== want) {
      problems.push(
        `acknowledged insert ${id} (user ${user}) is on [${holders.join(', ')}], expected ${want}`,
      );
    }
  }
  for (const [id, user] of ledger.unknownInserts) {
    const holders = [...likes].filter(([, m]) => m.has(id)).map(([shard]) => shard);
    if (holders.length > 1 || (holders.length === 1 && holders[0] !== owner(user))) {
      problems.push(`insert ${id} (user ${user}, answer lost) is on [${holders.join(', ')}]`);
    }
  }
  for (const id of ledger.failedInserts) {
    for (const [shard, m] of likes) if (m.has(id)) problems.push(`failed insert ${id} appears on ${shard}`);
  }
  const known = new Set([
    ...ledger.inserted.keys(),
    ...ledger.failedInserts,
    ...ledger.unknownInserts.keys(),
  ]);
  for (const [shard, m] of likes) {
    for (const id of m.keys()) if (!known.has(id)) problems.push(`row ${id} on ${shard} that nobody wrote`);
  }
  for (const [user, title] of ledger.titles) {
    const seen = titles.get(owner(user))?.get(user);
    const lostAnswer = ledger.unknownTitles.get(user);
    if (
      seen &&
      (seen.size !== 1 || !(seen.has(title) || (lostAnswer !== undefined && seen.has(lostAnswer))))
    ) {
      problems.push(`user ${user}'s posts have titles [${[...seen].join(', ')}], last acknowledged ${title}`);
    }
    for (const [shard, m] of titles) {
      if (shard !== owner(user) && m.has(user)) problems.push(`user ${user}'s posts also on ${shard}`);
    }
  }
  return {
    checkedInserts: ledger.inserted.size,
    checkedUsers: ledger.titles.size,
    problems: problems.slice(0, 50),
  };
}

/** Users whose rows live in `range` (for writing into the shard being split). */
export function usersIn(range: KeyRange, count: number, from = 1, to = 100_000): number[] {
  const out: number[] = [];
  for (let u = from; u <= to && out.length < count; u++) {
    if (rangeContains(range, keyspaceIdFor(String(u), 'int')!)) out.push(u);
  }
  return out;
}

/** A writer pool as the split scenario drives it: in this thread or in a worker thread. */
export interface RunningPool {
  writes(): Promise<number>;
  /** Stops the writers and returns the ledger. */
  stop(): Promise<Ledger>;
}

export function poolInThisThread(o: WriterPoolOptions): RunningPool {
  const pool = startWriterPool(o);
  return {
    writes: async () => pool.ledger.writes,
    stop: async () => {
      await pool.stop();
      return pool.ledger;
    },
  };
}

/** The pool in a worker thread (compiled bench only: the worker is a .js file next to this one). */
export async function poolInWorker(o: WriterPoolOptions): Promise<RunningPool | null> {
  const url = new URL('./writer-worker.js', import.meta.url);
  if (!import.meta.url.endsWith('.js')) return null;
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(url, { workerData: o });
  const ask = <T>(message: string, field: string): Promise<T> =>
    new Promise((resolve, reject) => {
      // Both listeners go once answered: the split bench asks for the count every status line.
      const onMessage = (m: Record<string, unknown>) => {
        if (!(field in m)) return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve(m[field] as T);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.postMessage(message);
    });
  return {
    writes: () => ask<number>('count', 'writes'),
    stop: async () => {
      const s = await ask<
        {
          inserted: Array<[number, number]>;
          failedInserts: number[];
          titles: Array<[number, string]>;
        } & Omit<Ledger, 'inserted' | 'failedInserts' | 'titles'>
      >('stop', 'ledger');
      await worker.terminate();
      return {
        ...s,
        inserted: new Map(s.inserted),
        failedInserts: new Set(s.failedInserts),
        titles: new Map(s.titles),
      };
    },
  };
}
