// The consistency scenario's workload: registers (one demo row each, in `posts` or `likes`) whose
// version the database increments on every write (UPDATE ... SET v = v + 1 RETURNING v, so
// versions follow commit order), and sessions that write and read them through shardgate at one
// consistency level, recording every write (version, sent, acknowledged) and every read (version
// seen, sent, answered, and the server that answered via inet_server_port()).
import type pg from 'pg';
import type { ConsistencyLevel } from '../../src/config/schema.js';
import type { ReadEvent, WriteEvent } from '../lib/consistency-checker.js';
import { LatencyRecorder } from '../lib/hdr.js';
import { errorMessage } from '../lib/pg-clients.js';
import { mulberry32 } from '../lib/zipf.js';
import type { ContextVia } from './consistency-options.js';

export type RegisterTable = 'posts' | 'likes';

export interface Register {
  /** "posts:7000010003": the checker's key. */
  key: string;
  table: RegisterTable;
  id: number;
  userId: number;
}

/** The version column of each register table and the statements on it. */
const SQL: Record<RegisterTable, { write: string; read: string; seedColumns: string; seedValue: string }> = {
  posts: {
    // posts.title is text: the version is kept as its decimal text.
    write:
      'UPDATE posts SET title = (title::bigint + 1)::text WHERE user_id = $1 AND id = $2 RETURNING title::bigint AS v',
    read: 'SELECT title::bigint AS v, inet_server_port() AS port FROM posts WHERE user_id = $1 AND id = $2',
    seedColumns: 'id, user_id, title',
    seedValue: "'0'",
  },
  likes: {
    write: 'UPDATE likes SET post_id = post_id + 1 WHERE user_id = $1 AND id = $2 RETURNING post_id AS v',
    read: 'SELECT post_id AS v, inet_server_port() AS port FROM likes WHERE user_id = $1 AND id = $2',
    seedColumns: 'id, user_id, post_id',
    seedValue: '0',
  },
};

const ID_BASE = 7_000_000_000;
const USER_BASE = 5_000_000;
const IDS_PER_CELL = 10_000;

/** The registers of cell number `cell`: disjoint from every other cell's, alternating tables. */
export function cellRegisters(cell: number, count: number): Register[] {
  return Array.from({ length: count }, (_, i) => {
    const table: RegisterTable = i % 2 === 0 ? 'posts' : 'likes';
    const id = ID_BASE + cell * IDS_PER_CELL + i;
    return { key: `${table}:${id}`, table, id, userId: USER_BASE + cell * IDS_PER_CELL + i };
  });
}

/** INSERT statements creating `registers` at version 0, grouped per table (run on the owning primary). */
export function seedStatements(registers: readonly Register[]): string[] {
  const out: string[] = [];
  for (const table of Object.keys(SQL) as RegisterTable[]) {
    const mine = registers.filter((r) => r.table === table);
    if (mine.length === 0) continue;
    const s = SQL[table];
    const values = mine.map((r) => `(${r.id}, ${r.userId}, ${s.seedValue})`).join(', ');
    out.push(`INSERT INTO ${table} (${s.seedColumns}) VALUES ${values} ON CONFLICT (id) DO NOTHING`);
  }
  return out;
}

/** Version 0 of every register, acknowledged before any cell starts (the rows are seeded and replayed first). */
export function seedWrites(registers: readonly Register[]): WriteEvent[] {
  return registers.map((r) => ({ session: 'seed', key: r.key, version: 0, startMs: 0, ackMs: 0 }));
}

export interface ObservedRead extends ReadEvent {
  /** The port of the server that answered (inet_server_port()), null if unknown. */
  port: number | null;
}

export interface CellHistory {
  writes: WriteEvent[];
  reads: ObservedRead[];
  errors: number;
  firstError?: string;
  readLatency: LatencyRecorder;
  writeLatency: LatencyRecorder;
}

export function emptyHistory(): CellHistory {
  return {
    writes: [],
    reads: [],
    errors: 0,
    readLatency: new LatencyRecorder(),
    writeLatency: new LatencyRecorder(),
  };
}

export interface SessionPlan {
  name: string;
  level: ConsistencyLevel;
  via: ContextVia;
  registers: readonly Register[];
  writeRatio: number;
  ownReadShare: number;
  /** performance.now() value at which the session stops. */
  deadline: number;
  maxOps: number;
  seed: number;
}

/** A session gives up after this many errors in a row (a dead connection must not spin). */
const MAX_CONSECUTIVE_ERRORS = 20;

function toVersion(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Runs one session's loop against an open client (already SET to its level when via=set). */
export async function runSession(client: pg.Client, plan: SessionPlan, history: CellHistory): Promise<void> {
  const random = mulberry32(plan.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const hint = plan.via === 'hint' ? `/* shardgate: consistency=${plan.level} */ ` : '';
  const own: Register[] = [];
  let consecutiveErrors = 0;
  for (let op = 0; op < plan.maxOps && performance.now() < plan.deadline; op++) {
    const write = random() < plan.writeRatio;
    const register =
      !write && own.length > 0 && random() < plan.ownReadShare ? pick(own) : pick(plan.registers);
    const params = [register.userId, register.id];
    const startMs = performance.now();
    try {
      if (write) {
        const r = await client.query<{ v: unknown }>(SQL[register.table].write, params);
        const ackMs = performance.now();
        history.writeLatency.recordMs(ackMs - startMs);
        const version = toVersion(r.rows[0]?.v);
        if (version === null) throw new Error(`write of ${register.key} returned no version`);
        history.writes.push({ session: plan.name, key: register.key, version, startMs, ackMs });
        if (!own.includes(register)) own.push(register);
      } else {
        const r = await client.query<{ v: unknown; port: unknown }>(hint + SQL[register.table].read, params);
        const endMs = performance.now();
        history.readLatency.recordMs(endMs - startMs);
        const row = r.rows[0];
        history.reads.push({
          session: plan.name,
          key: register.key,
          version: row ? toVersion(row.v) : null,
          startMs,
          endMs,
          port: row ? toVersion(row.port) : null,
        });
      }
      consecutiveErrors = 0;
    } catch (err) {
      history.errors++;
      history.firstError ??= errorMessage(err);
      if (++consecutiveErrors >= MAX_CONSECUTIVE_ERRORS) return;
    }
  }
}
