// Cross-checks the keyspace hash against a live PostgreSQL when one answers on 127.0.0.1:5432
// (skipped otherwise; test/unit/router-hash.test.ts holds recorded values and always runs).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashInt8, hashText } from '../../src/router/sharding/hash.js';

let client: pg.Client | null = null;

beforeAll(async () => {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: 5432,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 1000,
  });
  try {
    await c.connect();
    client = c;
  } catch {
    client = null;
  }
});

afterAll(async () => {
  await client?.end();
});

// Deterministic pseudo-random inputs (xorshift), so a failure is reproducible.
function* xorshift(seed: number): Generator<number> {
  let x = seed >>> 0;
  for (;;) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield x;
  }
}

describe('hash against live PostgreSQL', () => {
  it('hashint8extended over 500 int8 values', async (ctx) => {
    if (!client) return ctx.skip();
    const rnd = xorshift(42);
    const values: bigint[] = [];
    for (let i = 0; i < 500; i++) {
      const hi = BigInt(rnd.next().value as number);
      const lo = BigInt(rnd.next().value as number);
      values.push(BigInt.asIntN(64, (hi << 32n) | lo) >> BigInt(i % 64));
    }
    const res = await client.query<{ h: string }>(
      'SELECT hashint8extended(v, 0)::text AS h FROM unnest($1::int8[]) WITH ORDINALITY AS t(v, n) ORDER BY n',
      [values.map(String)],
    );
    for (const [i, v] of values.entries()) {
      expect(hashInt8(v), String(v)).toBe(BigInt.asUintN(64, BigInt(res.rows[i]!.h)));
    }
  });

  it('hashtextextended over 300 strings of every length class', async (ctx) => {
    if (!client) return ctx.skip();
    const rnd = xorshift(7);
    const alphabet = 'abcXYZ019 -_éü日本🚀';
    const chars = [...alphabet];
    const values: string[] = [];
    for (let i = 0; i < 300; i++) {
      let s = '';
      const len = i % 40;
      for (let j = 0; j < len; j++) s += chars[(rnd.next().value as number) % chars.length];
      values.push(s);
    }
    const res = await client.query<{ h: string }>(
      'SELECT hashtextextended(v, 0)::text AS h FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n',
      [values],
    );
    for (const [i, v] of values.entries()) {
      expect(hashText(v), JSON.stringify(v)).toBe(BigInt.asUintN(64, BigInt(res.rows[i]!.h)));
    }
  });
});
