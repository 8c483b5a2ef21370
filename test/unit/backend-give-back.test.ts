import { describe, expect, it } from 'vitest';
import { giveBack } from '../../src/backend/give-back.js';
import { StopSignalHold } from '../../src/backend/stop-signal-hold.js';
import { deferred } from '../support/deferred.js';

/** A connection with a real stop hold over no wire, and a pool that records what came back how. */
function fixture() {
  const conn = {
    stops: new StopSignalHold(
      () => undefined,
      () => undefined,
    ),
  };
  const events: string[] = [];
  const pool = {
    release: (c: typeof conn) => events.push(c === conn ? 'released' : 'other'),
    discard: (c: typeof conn) => events.push(c === conn ? 'discarded' : 'other'),
  };
  return { conn, pool, events };
}

const settled = () => new Promise((r) => setImmediate(r));

describe('giveBack', () => {
  it('releases at once when nothing is on its way and nothing needs wiping', () => {
    const { conn, pool, events } = fixture();
    giveBack(pool, conn, null);
    expect(events).toEqual(['released']);
  });

  it('releases only after the wipe succeeds, and discards when it fails', async () => {
    const ok = fixture();
    const wipe = deferred();
    giveBack(ok.pool, ok.conn, () => wipe.promise);
    await settled();
    expect(ok.events).toEqual([]);
    wipe.resolve();
    await settled();
    expect(ok.events).toEqual(['released']);

    const bad = fixture();
    giveBack(bad.pool, bad.conn, () => Promise.reject(new Error('reset failed')));
    await settled();
    expect(bad.events).toEqual(['discarded']);
  });

  it('waits for a stop on its way before the connection goes back (or is wiped)', async () => {
    const { conn, pool, events } = fixture();
    const signal = deferred();
    conn.stops.stop(() => signal.promise);
    let wiped = false;
    giveBack(pool, conn, async () => {
      wiped = true;
    });
    await settled();
    expect({ wiped, events }).toEqual({ wiped: false, events: [] });
    signal.resolve();
    await settled();
    expect({ wiped, events }).toEqual({ wiped: true, events: ['released'] });
  });

  it('discards after a stop when the wipe fails', async () => {
    const { conn, pool, events } = fixture();
    const signal = deferred();
    conn.stops.stop(() => signal.promise);
    giveBack(pool, conn, () => Promise.reject(new Error('ROLLBACK failed')));
    signal.resolve();
    await settled();
    await settled();
    expect(events).toEqual(['discarded']);
  });

  it('discards when the release after a wipe throws (no promise left rejected)', async () => {
    const { conn, events } = fixture();
    const pool = {
      release: () => {
        throw new Error('pool closed');
      },
      discard: (c: typeof conn) => events.push(c === conn ? 'discarded' : 'other'),
    };
    giveBack(pool, conn, async () => undefined);
    await settled();
    expect(events).toEqual(['discarded']);
  });
});
