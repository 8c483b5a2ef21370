import { describe, expect, it } from 'vitest';
import { SNOWFLAKE_EPOCH_MS, SnowflakeIds } from '../../src/router/snowflake-ids.js';

describe('snowflake ids', () => {
  it('packs time, instance and sequence', () => {
    const ids = new SnowflakeIds(5, () => SNOWFLAKE_EPOCH_MS + 1000);
    const a = ids.next();
    const b = ids.next();
    expect(a >> 22n).toBe(1000n);
    expect((a >> 12n) & 1023n).toBe(5n);
    expect(a & 4095n).toBe(0n);
    expect(b - a).toBe(1n);
  });

  it('strictly increase when a millisecond runs out of sequence numbers or the clock steps back', () => {
    let t = SNOWFLAKE_EPOCH_MS + 50;
    const ids = new SnowflakeIds(1023, () => t);
    let last = -1n;
    for (let i = 0; i < 10_000; i++) {
      if (i === 5000) t -= 20;
      const id = ids.next();
      expect(id > last).toBe(true);
      last = id;
    }
    expect(last < 1n << 63n).toBe(true);
  });

  it('two instances never collide in the same millisecond', () => {
    const a = new SnowflakeIds(1, () => SNOWFLAKE_EPOCH_MS + 7);
    const b = new SnowflakeIds(2, () => SNOWFLAKE_EPOCH_MS + 7);
    const seen = new Set<bigint>();
    for (let i = 0; i < 100; i++) {
      seen.add(a.next());
      seen.add(b.next());
    }
    expect(seen.size).toBe(200);
  });

  it('refuses an instance id outside 10 bits', () => {
    expect(() => new SnowflakeIds(1024)).toThrow(RangeError);
  });
});
