// The probe loop (src/backend/probe-loop.ts) through a fake prober: health, lag, fencing, shunning,
// read_your_writes waiters and silent servers, without sockets. Fake timers drive the polls.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ProbedServer, ProbeLoop, type Prober, type ProbeSample } from '../../src/backend/probe-loop.js';
import { parseConfig } from '../../src/config/load.js';
import type { ServerView } from '../../src/router/inputs.js';

interface FakeConn {
  closed: boolean;
}

/** What each fake server answers: a sample, or an error. */
type Answer = { position: string; lagMs?: number | null; promoted?: string; readOnly?: boolean } | Error;

class FakeProber implements Prober<FakeConn, { name: string }, { figure: number | null }> {
  readonly protocol = 'mysql' as const;
  answers = new Map<string, Answer>();
  connects: string[] = [];
  initial() {
    return { figure: null };
  }
  async connect(address: { name: string }): Promise<FakeConn> {
    this.connects.push(address.name);
    const a = this.answers.get(address.name.replace('/monitor', ''));
    if (a instanceof Error) throw a;
    return { closed: false };
  }
  isClosed(conn: FakeConn) {
    return conn.closed;
  }
  destroy(conn: FakeConn) {
    conn.closed = true;
  }
  async sample(
    _conn: FakeConn,
    role: 'primary' | 'replica',
  ): Promise<ProbeSample<{ figure: number | null }>> {
    // The fake keys answers by role-and-shard: one primary and one replica.
    const a = this.answers.get(role === 'primary' ? 's0-primary' : 's0-replica1')!;
    if (a instanceof Error) throw a;
    return {
      position: a.position,
      roleMismatch: role === 'primary' ? a.readOnly === true : false,
      promoted: a.promoted ?? null,
      replicaLag: (primaryPosition, extra) => {
        extra.figure = 42;
        return primaryPosition === a.position ? 0 : (a.lagMs ?? null);
      },
    };
  }
}

function view(name: string, role: 'primary' | 'replica'): ServerView {
  return {
    name,
    shard: 's0',
    role,
    healthy: true,
    drained: false,
    lagMs: null,
    position: null,
    outstanding: 0,
    rttMs: null,
  };
}

function setup() {
  const config = parseConfig({
    users: [{ name: 'app', password: 'x' }],
    shards: [{ name: 's0', primary: { host: '127.0.0.1', port: 1 } }],
    routing: { replicaHardLagLimitMs: 5_000, probeTimeoutMs: 1_000 },
  });
  const aborted: string[] = [];
  const server = (name: string, role: 'primary' | 'replica'): ProbedServer<{ name: string }> => ({
    name,
    shard: 's0',
    role,
    view: view(name, role),
    pool: { address: { name } },
    pools: {
      all: () => [
        {
          abortSilent: (ms: number) => {
            aborted.push(`${name}:${ms}`);
            return 0;
          },
        },
      ],
    },
  });
  const servers = [server('s0-primary', 'primary'), server('s0-replica1', 'replica')];
  const prober = new FakeProber();
  const loop = new ProbeLoop({ currentConfig: config, allServers: () => servers }, config, prober);
  const primarySeen: string[] = [];
  loop.onPrimarySeen = (name) => primarySeen.push(name);
  const byName = (name: string) => loop.health().find((h) => h.name === name)!;
  return { loop, prober, servers, byName, aborted, primarySeen };
}

/** Runs every poll due now and the promises they await. */
async function pollOnce(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

describe('ProbeLoop', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps health, position and replica lag from the prober, with the protocol and its own figures', async () => {
    const { loop, prober, servers, byName } = setup();
    prober.answers.set('s0-primary', { position: '0-1-10' });
    prober.answers.set('s0-replica1', { position: '0-1-9', lagMs: 2_000 });
    loop.start();
    await pollOnce();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(byName('s0-primary')).toMatchObject({
      protocol: 'mysql',
      healthy: true,
      lagMs: 0,
      position: '0-1-10',
    });
    expect(byName('s0-replica1')).toMatchObject({
      healthy: true,
      lagMs: 2_000,
      figure: 42,
      roleMismatch: false,
    });
    expect(servers[1]!.view).toMatchObject({ lagMs: 2_000, position: '0-1-9', healthy: true });
    // Past the hard limit: out of rotation.
    prober.answers.set('s0-replica1', { position: '0-1-9', lagMs: 6_000 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(servers[1]!.view.healthy).toBe(false);
    loop.stop();
  });

  it('a primary that says it is read-only is unhealthy, with a role mismatch', async () => {
    const { loop, prober, byName } = setup();
    prober.answers.set('s0-primary', { position: '0-1-10', readOnly: true });
    prober.answers.set('s0-replica1', { position: '0-1-10' });
    loop.start();
    await pollOnce();
    expect(byName('s0-primary')).toMatchObject({ healthy: false, roleMismatch: true });
    loop.stop();
  });

  it('a replica that reports it is a primary is fenced and reported to the topology', async () => {
    const { loop, prober, byName, primarySeen } = setup();
    prober.answers.set('s0-primary', { position: '0-1-10' });
    prober.answers.set('s0-replica1', { position: '0-2-1', promoted: 'writable' });
    loop.start();
    await pollOnce();
    expect(primarySeen).toEqual(['s0-replica1']);
    expect(byName('s0-replica1')).toMatchObject({ healthy: false, shunned: true, lagMs: null });
    expect(byName('s0-replica1').shunReason).toMatch(/reports it is a primary \(writable\)/);
    loop.stop();
  });

  it('a failing server is shunned at once, unhealthy after two failures, and its silent connections aborted', async () => {
    const { loop, prober, byName, aborted, servers } = setup();
    prober.answers.set('s0-primary', { position: '0-1-10' });
    prober.answers.set('s0-replica1', new Error('connection refused'));
    loop.start();
    await pollOnce();
    expect(byName('s0-replica1')).toMatchObject({
      consecutiveFailures: 1,
      lastError: 'connection refused',
      shunned: true,
    });
    expect(servers[1]!.view.healthy).toBe(false);
    expect(aborted).toContain('s0-replica1:1000');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(byName('s0-replica1').consecutiveFailures).toBeGreaterThanOrEqual(2);
    // It answers again: back in rotation after enough good probes.
    prober.answers.set('s0-replica1', { position: '0-1-10' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(byName('s0-replica1')).toMatchObject({ healthy: true, shunned: false, lagMs: 0 });
    expect(loop.isShunned('s0-replica1')).toBe(false);
    loop.stop();
  });

  it('waitForPosition resolves when the replica covers the position, false on timeout or unknown server', async () => {
    const { loop, prober } = setup();
    prober.answers.set('s0-primary', { position: '0-1-12' });
    prober.answers.set('s0-replica1', { position: '0-1-10', lagMs: 100 });
    loop.start();
    await pollOnce();
    expect(await loop.waitForPosition('s0-replica1', '0-1-9', 0)).toBe(true);
    expect(await loop.waitForPosition('s0-replica1', '0-1-11', 0)).toBe(false);
    expect(await loop.waitForPosition('nope', '0-1-1', 100)).toBe(false);
    const caughtUp = loop.waitForPosition('s0-replica1', '0-1-12', 1_000);
    prober.answers.set('s0-replica1', { position: '0-1-12' });
    await vi.advanceTimersByTimeAsync(10);
    expect(await caughtUp).toBe(true);
    const late = loop.waitForPosition('s0-replica1', '0-1-99', 500);
    await vi.advanceTimersByTimeAsync(500);
    expect(await late).toBe(false);
    loop.stop();
  });
});
