import { describe, expect, it } from 'vitest';
import type { ConsistencyLevel } from '../../src/config/schema.js';
import type { ServerView } from '../../src/router/inputs.js';
import { chooseServer, forceReplica } from '../../src/router/replica-choice.js';
import { demoTopology } from '../support/topology-fixture.js';

function choose(
  level: ConsistencyLevel,
  servers: Record<string, Partial<ServerView>> = {},
  opts: { lastWrite?: string; maxLagMs?: number; replicas?: number } = {},
) {
  const topology = demoTopology({ servers, replicas: opts.replicas ?? 3 });
  return chooseServer({
    level,
    shard: topology.shards[0]!,
    routing: topology.routing,
    lastWritePosition: opts.lastWrite ?? null,
    maxLagMs: opts.maxLagMs ?? 1000,
  });
}

/** State overrides for s0's three replicas, in name order. */
const threeReplicas = (...states: Array<Partial<ServerView>>): Record<string, Partial<ServerView>> =>
  Object.fromEntries(states.map((state, i) => [`s0-replica${i + 1}`, state]));

/** The target `level` chooses when s0's three replicas are in these states. */
const pick = (level: ConsistencyLevel, ...states: Array<Partial<ServerView>>) =>
  choose(level, threeReplicas(...states)).target;

describe('chooseServer', () => {
  it('strong -> primary', () => {
    expect(choose('strong').target).toEqual({ shard: 's0', server: 's0-primary', role: 'primary' });
  });

  it('eventual -> fewest outstanding requests, ties by name', () => {
    expect(choose('eventual').target.server).toBe('s0-replica1');
    expect(
      choose('eventual', { 's0-replica1': { outstanding: 3 }, 's0-replica2': { outstanding: 1 } }).target
        .server,
    ).toBe('s0-replica3');
    expect(
      choose('eventual', { 's0-replica1': { outstanding: 3 }, 's0-replica3': { outstanding: 2 } }).target
        .server,
    ).toBe('s0-replica2');
  });

  it('out of rotation: unhealthy, drained, past the hard lag limit', () => {
    const c = choose('eventual', threeReplicas({ healthy: false }, { drained: true }, { lagMs: 30_001 }));
    expect(c.target.role).toBe('primary');
    expect(c.reason).toMatch(/no replica in rotation/);
  });

  it('a replica fenced at a switch position serves no level until the fence is lifted', () => {
    const fenced = { catchUpTo: '0/5000000', lagMs: 0, position: '0/4000000', rttMs: 1 };
    for (const level of ['weak', 'eventual', 'bounded', 'read_your_writes'] as const) {
      const c = choose(level, { 's0-replica1': fenced }, { replicas: 1, lastWrite: '0/100' });
      expect(c.target.role, level).toBe('primary');
    }
    const lifted = choose('eventual', { 's0-replica1': { ...fenced, catchUpTo: null } }, { replicas: 1 });
    expect(lifted.target.server).toBe('s0-replica1');
  });

  it('weak -> lowest rtt regardless of lag, unknown rtt last', () => {
    expect(pick('weak', { rttMs: null }, { rttMs: 2, lagMs: 20_000 }, { rttMs: 5 }).server).toBe(
      's0-replica2',
    );
    expect(pick('weak', { rttMs: null }, { rttMs: null }, { rttMs: null }).server).toBe('s0-replica1');
  });

  it('bounded -> a replica with known lag within the bound, else primary', () => {
    expect(pick('bounded', { lagMs: 900 }, { lagMs: null }, { lagMs: 1001 }).server).toBe('s0-replica1');
    expect(pick('bounded', { lagMs: null }, { lagMs: null }, { lagMs: 1001 }).role).toBe('primary');
    expect(choose('bounded', {}, { maxLagMs: 4 }).target.role).toBe('primary');
  });

  it('read_your_writes without a write on the shard behaves like eventual', () => {
    const c = choose('read_your_writes', { 's0-replica1': { outstanding: 1 } });
    expect(c.target).toEqual({ shard: 's0', server: 's0-replica2', role: 'replica' });
  });

  it('read_your_writes -> a replica that replayed the write', () => {
    const c = choose(
      'read_your_writes',
      threeReplicas({ position: '0/100' }, { position: '0/200' }, { position: null }),
      { lastWrite: '0/180' },
    );
    expect(c.target).toEqual({ shard: 's0', server: 's0-replica2', role: 'replica' });
  });

  it('read_your_writes -> wait on the least lagging replica, fall back to the primary', () => {
    const c = choose(
      'read_your_writes',
      threeReplicas(
        { position: '0/100', lagMs: 30 },
        { position: '0/100', lagMs: 10 },
        { position: '0/100', lagMs: null },
      ),
      { lastWrite: '0/180' },
    );
    expect(c.target).toEqual({
      shard: 's0',
      server: 's0-replica2',
      role: 'replica',
      wait: { position: '0/180', maxWaitMs: 50, fallbackServer: 's0-primary' },
    });
  });

  it('read_your_writes with no replica in rotation -> primary', () => {
    const c = choose(
      'read_your_writes',
      { 's0-replica1': { healthy: false } },
      { lastWrite: '0/1', replicas: 1 },
    );
    expect(c.target.role).toBe('primary');
  });
});

describe('forceReplica', () => {
  it('uses a replica even for strong, and the primary only when none is in rotation', () => {
    const topology = demoTopology();
    const input = {
      level: 'strong' as const,
      shard: topology.shards[1]!,
      routing: topology.routing,
      lastWritePosition: null,
      maxLagMs: 1000,
    };
    expect(forceReplica(input).target).toEqual({ shard: 's1', server: 's1-replica1', role: 'replica' });
    const down = demoTopology({ servers: { 's1-replica1': { healthy: false } } });
    expect(forceReplica({ ...input, shard: down.shards[1]! }).target.role).toBe('primary');
    const lagging = demoTopology({ servers: { 's1-replica1': { lagMs: 5000 } } });
    expect(forceReplica({ ...input, level: 'bounded', shard: lagging.shards[1]! }).target.role).toBe(
      'replica',
    );
  });
});
