// A replica promoted at run time stays the primary through every later rebuild of the topology.
import { describe, expect, it } from 'vitest';
import { applyPromotions } from '../../src/backend/promotions.js';
import { serverNames } from '../../src/backend/server-names.js';
import { parseConfig } from '../../src/config/load.js';

const config = parseConfig({
  users: [{ name: 'app', password: 'app' }],
  shards: [
    { name: 's0', keyRange: '-80', primary: { port: 5001 }, replicas: [{ port: 5002 }, { port: 5003 }] },
    { name: 's1', keyRange: '80-', primary: { port: 5011 }, replicas: [{ port: 5012 }] },
  ],
});

describe('applyPromotions', () => {
  it('makes the promoted replica the primary and keeps every server name', () => {
    const out = applyPromotions(config, new Map([['s0', 's0-replica2']]));
    const s0 = out.shards[0]!;
    expect(s0.primary.port).toBe(5003);
    expect(serverNames(s0)).toEqual({ primary: 's0-replica2', replicas: ['s0-replica1', 's0-primary'] });
    expect(s0.replicas.map((r) => r.port)).toEqual([5002, 5001]);
    expect(out.shards[1]).toBe(config.shards[1]);
  });

  it('is idempotent: a rebuild from the promoted config changes nothing', () => {
    const promoted = new Map([['s0', 's0-replica1']]);
    const once = applyPromotions(config, promoted);
    expect(applyPromotions(once, promoted)).toBe(once);
  });

  it('leaves a config untouched without promotions or with an unknown server', () => {
    expect(applyPromotions(config, new Map())).toBe(config);
    expect(applyPromotions(config, new Map([['s0', 'nope']]))).toBe(config);
  });
});
