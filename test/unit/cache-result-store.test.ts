import { describe, expect, it } from 'vitest';
import { isCleanResponse } from '../../src/cache/pg-result-cache.js';
import { ResultStore } from '../../src/cache/result-store.js';
import { encodeReadyForQuery } from '../../src/protocol/postgres/backend-messages.js';

/** Tests keep one hint per key: its first character. */
const hintOf = (key: string) => key.charCodeAt(0);

function fill(store: ResultStore, key: string, tables: string[], bytes: number, ttlMs = 1_000): boolean {
  const ticket = store.startFill(key, hintOf(key), tables);
  if (!ticket) throw new Error('fill already running');
  return store.store(ticket, Buffer.alloc(bytes, 1), ttlMs);
}

describe('ResultStore', () => {
  it('expires entries after their TTL', () => {
    let now = 0;
    const store = new ResultStore({ maxBytes: 100_000, maxEntryBytes: 10_000, now: () => now });
    fill(store, 'a', ['t'], 10, 500);
    now = 499;
    expect(store.get('a')).not.toBeNull();
    now = 500;
    expect(store.get('a')).toBeNull();
    expect(store.stats()).toMatchObject({ hits: 1, misses: 1, entries: 0, bytes: 0 });
  });

  it('lookup (the hit path before planning) counts hits only and honours the TTL', () => {
    let now = 0;
    const store = new ResultStore({ maxBytes: 100_000, maxEntryBytes: 10_000, now: () => now });
    expect(store.isEmpty()).toBe(true);
    expect(store.lookup('a')).toBeNull();
    fill(store, 'a', ['t'], 10, 500);
    expect(store.isEmpty()).toBe(false);
    expect(store.lookup('a')).not.toBeNull();
    now = 500;
    expect(store.lookup('a')).toBeNull();
    expect(store.stats()).toMatchObject({ hits: 1, misses: 0 });
  });

  it('stays within its byte bound, evicting the least recently used', () => {
    const store = new ResultStore({ maxBytes: 3 * 1_200, maxEntryBytes: 10_000 });
    fill(store, 'a', ['t'], 1_000);
    fill(store, 'b', ['t'], 1_000);
    fill(store, 'c', ['t'], 1_000);
    expect(store.get('a')).not.toBeNull(); // a is now the most recently used
    fill(store, 'd', ['t'], 1_000);
    expect(store.get('b')).toBeNull();
    expect(store.get('a')).not.toBeNull();
    expect(store.stats().bytes).toBeLessThanOrEqual(3 * 1_200);
    expect(store.stats().evictions).toBe(1);
    expect(fill(store, 'huge', ['t'], 20_000)).toBe(false);
  });

  it('keeps hit entries of the newer half in place, and still evicts the older half first', () => {
    const store = new ResultStore({ maxBytes: 4 * 1_200, maxEntryBytes: 10_000 });
    for (const k of ['a', 'b', 'c', 'd']) fill(store, k, ['t'], 1_000);
    // c and d are in the newer half: served without being moved.
    expect(store.get('d')).not.toBeNull();
    expect(store.get('c')).not.toBeNull();
    expect(store.get('a')).not.toBeNull(); // older half: moved to the end
    fill(store, 'e', ['t'], 1_000);
    fill(store, 'f', ['t'], 1_000);
    expect(store.get('b')).toBeNull();
    expect(store.get('c')).toBeNull(); // evicted second: its hit did not move it (exact LRU would take d)
    for (const k of ['a', 'd', 'e', 'f']) expect(store.get(k)).not.toBeNull();
    expect(store.stats().evictions).toBe(2);
  });

  it('drops the entries of a written table, and a fill that raced the write is not stored', () => {
    const store = new ResultStore({ maxBytes: 100_000, maxEntryBytes: 10_000 });
    fill(store, 'a', ['likes'], 10);
    fill(store, 'b', ['posts'], 10);
    const racing = store.startFill('c', hintOf('c'), ['likes', 'posts'])!;
    expect(store.invalidateTables(['likes'])).toBe(1);
    expect(store.store(racing, Buffer.alloc(10), 1_000)).toBe(false);
    expect(store.get('a')).toBeNull();
    expect(store.get('b')).not.toBeNull();
    expect(store.get('c')).toBeNull();
    expect(store.stats().invalidations).toBe(1);
    expect(store.clear()).toBe(1);
    expect(store.get('b')).toBeNull();
  });

  it('knows which hints its live entries have (expired, evicted, invalidated and cleared ones go)', () => {
    let now = 0;
    const store = new ResultStore({ maxBytes: 3 * 1_200, maxEntryBytes: 10_000, now: () => now });
    expect(store.mayHold(hintOf('a'))).toBe(false);
    fill(store, 'a1', ['t'], 10, 500);
    fill(store, 'a2', ['u'], 10, 1_000);
    expect(store.mayHold(hintOf('a'))).toBe(true);
    expect(store.mayHold(hintOf('b'))).toBe(false);
    now = 500;
    expect(store.get('a1')).toBeNull(); // expired: removed
    expect(store.mayHold(hintOf('a'))).toBe(true);
    store.invalidateTables(['u']);
    expect(store.mayHold(hintOf('a'))).toBe(false);
    fill(store, 'b', ['t'], 1_000);
    fill(store, 'c', ['t'], 1_000);
    fill(store, 'd', ['t'], 1_000);
    fill(store, 'e', ['t'], 1_000); // evicts b
    expect(store.mayHold(hintOf('b'))).toBe(false);
    expect(store.mayHold(hintOf('e'))).toBe(true);
    store.clear();
    expect(store.mayHold(hintOf('e'))).toBe(false);
  });

  it('lets one fill run per key; the others wait for it', async () => {
    const store = new ResultStore({ maxBytes: 100_000, maxEntryBytes: 10_000 });
    const first = store.startFill('k', hintOf('k'), ['t'])!;
    expect(store.startFill('k', hintOf('k'), ['t'])).toBeNull();
    const waiting = store.pending('k')!;
    let woke = false;
    const waiter = waiting.then(() => {
      woke = true;
    });
    expect(woke).toBe(false);
    store.store(first, Buffer.from('x'), 1_000);
    await waiter;
    expect(store.get('k')).toEqual(Buffer.from('x'));
    expect(store.pending('k')).toBeNull();
  });
});

describe('isCleanResponse', () => {
  const msg = (type: string, body: Buffer) => {
    const b = Buffer.alloc(5 + body.length);
    b.write(type, 0, 'latin1');
    b.writeInt32BE(4 + body.length, 1);
    body.copy(b, 5);
    return b;
  };
  const complete = msg('C', Buffer.from('SELECT 1\0'));

  it('keeps a result that ends idle and drops errors, transactions and cut responses', () => {
    expect(isCleanResponse(Buffer.concat([complete, encodeReadyForQuery('I')]))).toBe(true);
    expect(isCleanResponse(Buffer.concat([complete, encodeReadyForQuery('T')]))).toBe(false);
    expect(
      isCleanResponse(Buffer.concat([msg('E', Buffer.from('SERROR\0\0')), encodeReadyForQuery('I')])),
    ).toBe(false);
    const whole = Buffer.concat([complete, encodeReadyForQuery('I')]);
    expect(isCleanResponse(whole.subarray(0, whole.length - 1))).toBe(false);
  });
});
