import { describe, expect, it } from 'vitest';
import { decideLevel, effectiveContext, shiftLevel } from '../../src/router/consistency.js';
import { defaultSessionContext, type SessionContext } from '../../src/router/inputs.js';
import type { CommentHints } from '../../src/sql/facts.js';
import { demoTopology } from '../support/topology-fixture.js';

const topology = demoTopology();

function level(tables: string[], context: Partial<SessionContext> = {}, hints: CommentHints = {}) {
  const ctx = effectiveContext({ ...defaultSessionContext(), ...context }, hints);
  if ('detail' in ctx) throw new Error(ctx.detail);
  return decideLevel(tables, ctx, topology);
}

describe('base level from data types', () => {
  it('each demo data type gives its level', () => {
    expect(level(['users']).level).toBe('strong');
    expect(level(['posts']).level).toBe('read_your_writes');
    expect(level(['likes']).level).toBe('eventual');
    expect(level(['temp_data']).level).toBe('weak');
    expect(level(['posts']).dataTypes).toEqual(['user_posts']);
  });

  it('several data types: the strongest wins', () => {
    const d = level(['likes', 'posts', 'temp_data']);
    expect(d.level).toBe('read_your_writes');
    expect(d.dataTypes).toEqual(['temporary_data', 'user_likes', 'user_posts']);
  });

  it('tables in no data type and statements without tables use routing.defaultLevel', () => {
    expect(level(['unknown_table', 'temp_data']).level).toBe('strong');
    expect(level([]).level).toBe('strong');
    const relaxed = demoTopology({ routing: { defaultLevel: 'eventual' } });
    const ctx = effectiveContext(defaultSessionContext(), {});
    if ('detail' in ctx) throw new Error();
    expect(decideLevel(['foo'], ctx, relaxed).level).toBe('eventual');
  });
});

describe('session context', () => {
  it('maps vip and battery saving as the seed does by default', () => {
    // VIP: eventual -> read_your_writes, read_your_writes -> strong; other levels stay.
    expect(level(['likes'], { vip: true }).level).toBe('read_your_writes');
    expect(level(['posts'], { vip: true }).level).toBe('strong');
    expect(level(['temp_data'], { vip: true }).level).toBe('weak');
    expect(level(['sessions'], { vip: true }).reasons).toContain('vip: eventual -> read_your_writes');
    // Battery saving: strong -> read_your_writes, read_your_writes -> eventual, eventual stays.
    expect(level(['posts'], { batterySaving: true }).level).toBe('eventual');
    expect(level(['likes'], { batterySaving: true }).level).toBe('eventual');
    expect(level(['temp_data'], { batterySaving: true }).level).toBe('weak');
    expect(level(['likes'], { batterySaving: true }).reasons).toContain(
      'battery saving: eventual -> eventual',
    );
  });

  it('takes the mappings from routing.vipLevels / batterySavingLevels (floors still apply)', () => {
    const ladder = demoTopology({
      routing: {
        vipLevels: { weak: 'eventual', eventual: 'bounded', bounded: 'read_your_writes' },
        batterySavingLevels: { strong: 'weak', eventual: 'weak' },
      },
    });
    const decide = (tables: string[], context: Partial<SessionContext>) => {
      const ctx = effectiveContext({ ...defaultSessionContext(), ...context }, {});
      if ('detail' in ctx) throw new Error(ctx.detail);
      return decideLevel(tables, ctx, ladder).level;
    };
    expect(decide(['likes'], { vip: true })).toBe('bounded');
    expect(decide(['posts'], { vip: true })).toBe('read_your_writes');
    expect(decide(['likes'], { batterySaving: true })).toBe('weak');
    // users: strong with floor read_your_writes; payments: floor strong.
    expect(decide(['users'], { batterySaving: true })).toBe('read_your_writes');
    expect(decide(['payments'], { batterySaving: true })).toBe('strong');
  });

  it('vip and battery saving together cancel out', () => {
    const d = level(['likes'], { vip: true, batterySaving: true });
    expect(d.level).toBe('eventual');
    expect(d.reasons).toContain('vip + battery saving cancel out');
  });

  it('realtime means strong and overrides vip / battery saving', () => {
    expect(level(['temp_data'], { realtime: true, batterySaving: true }).level).toBe('strong');
  });

  it('an explicit consistency replaces the level (and skips vip/realtime/battery)', () => {
    expect(level(['likes'], { consistency: 'read_your_writes', batterySaving: true }).level).toBe(
      'read_your_writes',
    );
    expect(level(['posts'], { consistency: 'weak', realtime: true }).level).toBe('weak');
  });

  it('a comment hint replaces the session value for one statement', () => {
    expect(level(['likes'], { consistency: 'strong' }, { consistency: 'weak' }).level).toBe('weak');
    expect(level(['likes'], { vip: true }, { vip: 'off' }).level).toBe('eventual');
    expect(level(['posts'], {}, { battery_saving: 'on' }).level).toBe('eventual');
    expect(level(['likes'], {}, { realtime: 'true' }).level).toBe('strong');
    expect(level(['likes'], { consistency: 'strong' }, { consistency: 'default' }).level).toBe('eventual');
  });

  it('bad hint values are reported, not guessed', () => {
    expect(effectiveContext(defaultSessionContext(), { consistency: 'sometimes' })).toMatchObject({
      name: 'consistency',
    });
    expect(effectiveContext(defaultSessionContext(), { vip: 'maybe' })).toMatchObject({ name: 'vip' });
  });
});

describe('floors', () => {
  it('no context goes below the strongest floor of the touched data types', () => {
    // payment_info: strong with floor strong.
    expect(level(['payments'], { batterySaving: true }).level).toBe('strong');
    expect(level(['payments'], { consistency: 'weak' }).level).toBe('strong');
    expect(level(['payments'], {}, { consistency: 'eventual' }).level).toBe('strong');
    // user_account: strong with floor read_your_writes.
    expect(level(['users'], { batterySaving: true }).level).toBe('read_your_writes');
    expect(level(['users'], { consistency: 'weak' }).reasons).toContain(
      'floor read_your_writes: weak -> read_your_writes',
    );
    // The floor of one type applies to the whole statement.
    expect(level(['users', 'likes'], { consistency: 'eventual' }).level).toBe('read_your_writes');
  });
});

describe('bounded', () => {
  it('uses the data type bound, else routing.defaultMaxLagMs', () => {
    expect(level(['likes'], { consistency: 'bounded' }).maxLagMs).toBe(1000);
    const t = demoTopology({
      dataTypes: {
        feed: {
          level: 'bounded',
          maxLagMs: 250,
          cacheTtlMs: 0,
          cacheStrategy: 'write-through',
          crossShard: 'two_phase',
          tables: ['feed'],
        },
      },
    });
    const ctx = effectiveContext(defaultSessionContext(), {});
    if ('detail' in ctx) throw new Error();
    expect(decideLevel(['feed'], ctx, t)).toMatchObject({ level: 'bounded', maxLagMs: 250 });
  });

  it('shiftLevel clamps', () => {
    expect(shiftLevel('strong', 1)).toBe('strong');
    expect(shiftLevel('weak', -2)).toBe('weak');
    expect(shiftLevel('eventual', 2)).toBe('read_your_writes');
  });
});
