// Which lane a pipelineable unit joins (MuxLane.find), on the generic pool with a fake driver: no
// sockets, fake clocks. A unit takes a connection of its own while one is idle or can be opened;
// at the pool's bound it joins the lane where it expects the shortest wait.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PgPool } from '../../src/backend/pg-pool.js';
import type { PgServerConnection } from '../../src/backend/pg-server-connection.js';
import { Pool } from '../../src/backend/pool.js';
import { poolSchema } from '../../src/config/schema.js';
import { type LaneMember, MuxLane } from '../../src/protocol/postgres/mux-lane.js';
import { newUnit, type Unit } from '../../src/protocol/postgres/units.js';
import { FakePoolDriver, FakePooledConnection } from '../support/fake-pooled-connection.js';

/** A pooled connection with what a lane touches of a PgServerConnection. */
class LaneConn extends FakePooledConnection {
  dirty = false;
  onData: ((chunk: Buffer) => void) | null = null;
  readonly prepared = new Map<string, true>();
  readonly socket = { cork() {}, uncork() {} };
  write(): void {}
}

class Member implements LaneMember {
  readonly tracker = { idle: false, status: 0x49 };
  readonly touchedStatements = false;
  receive(): void {
    this.tracker.idle = true;
  }
  serverLost(): void {}
}

const address = { name: 's0-primary', shard: 's0', role: 'primary' as const, user: 'u', database: 'd' };
const settings = new Map([['application_name', 'app']]);
const serverSettings = () => settings;
const unit: Unit = newUnit([], true);
const DEPTH = 4;
const READY = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);

function makePool(size: number): PgPool {
  const config = { ...poolSchema.parse({}), size };
  return new Pool(address, config, new FakePoolDriver(() => new LaneConn())) as unknown as PgPool;
}

/** A lane on a fresh checkout of `pool`, with `units` units written on it now. */
async function laneWith(
  pool: PgPool,
  units: number,
): Promise<{ lane: MuxLane; conn: LaneConn; members: Member[] }> {
  const conn = (await pool.acquire()) as unknown as LaneConn;
  const lane = MuxLane.open(pool, conn as unknown as PgServerConnection);
  const members: Member[] = [];
  for (let i = 0; i < units; i++) {
    const m = new Member();
    members.push(m);
    lane.reserve(m);
    lane.enter(m);
  }
  return { lane, conn, members };
}

// Fake clocks for every test: lane choice reads unit timings, and a room waiter's timeout must
// not fire by itself.
beforeEach(() =>
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'Date', 'performance'] }),
);
afterEach(() => vi.useRealTimers());

const find = (pool: PgPool) => MuxLane.find(pool, DEPTH, settings, serverSettings, unit, new Map());

describe('MuxLane.find: where a pipelineable unit goes', () => {
  it('takes an idle connection rather than queue behind another client’s unit', async () => {
    const pool = makePool(2);
    await laneWith(pool, 1);
    const spare = await pool.acquire();
    pool.release(spare);
    expect(pool.exhausted).toBe(false);
    expect(find(pool)).toBeNull();
    expect(pool.tryAcquire()).toBe(spare);
    // Now at the bound: the lane takes it.
    expect(find(pool)).not.toBeNull();
  });

  it('opens a connection while the pool is below its size, even with a lane that has room', async () => {
    const pool = makePool(3);
    await laneWith(pool, 1);
    await laneWith(pool, 1);
    expect(find(pool)).toBeNull();
    await laneWith(pool, 1);
    expect(find(pool)).not.toBeNull();
  });

  it('at the bound, passes over a lane whose head runs long for a longer queue behind young heads', async () => {
    const pool = makePool(2);
    const slow = await laneWith(pool, 1);
    vi.advanceTimersByTime(500);
    const busy = await laneWith(pool, 3);
    expect(find(pool)).toBe(busy.lane);
    expect(find(pool)).not.toBe(slow.lane);
  });

  it('at the bound, with heads equally young, joins the shortest queue', async () => {
    const pool = makePool(3);
    // Units answered a millisecond apart: the pool learns what a unit usually takes.
    const first = await laneWith(pool, 3);
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(1);
      first.conn.onData!(READY);
    }
    for (const m of first.members) if (first.lane.leave(m)) pool.release(first.conn as never);
    const lanes = [await laneWith(pool, 3), await laneWith(pool, 1), await laneWith(pool, 2)];
    expect(find(pool)).toBe(lanes[1]!.lane);
  });

  it('never beyond the depth: a full lane is skipped, and with every lane full the unit waits', async () => {
    const pool = makePool(2);
    await laneWith(pool, DEPTH);
    const other = await laneWith(pool, DEPTH - 1);
    expect(find(pool)).toBe(other.lane);
    other.lane.reserve(new Member());
    expect(find(pool)).toBeNull();
  });
});

describe('MuxLane.waitForRoom: a unit waiting at the bound', () => {
  it('wakes when a plain connection goes idle, not only when a lane member leaves', async () => {
    const pool = makePool(2);
    await laneWith(pool, DEPTH);
    const plain = await pool.acquire();
    expect(pool.exhausted).toBe(true);
    let woke = false;
    const waiting = MuxLane.waitForRoom(pool, 5_000).then(() => {
      woke = true;
    });
    await Promise.resolve();
    expect(woke).toBe(false);
    pool.release(plain);
    await waiting;
    // With fake timers its 5 s timeout cannot fire by itself: the release woke it.
    expect(woke).toBe(true);
    expect(pool.tryAcquire()).toBe(plain);
  });

  it('wakes when a plain connection is discarded and its slot frees', async () => {
    const pool = makePool(2);
    await laneWith(pool, DEPTH);
    const plain = await pool.acquire();
    const waiting = MuxLane.waitForRoom(pool, 5_000);
    pool.discard(plain);
    await waiting;
    expect(pool.exhausted).toBe(false);
  });
});
