import { describe, expect, it } from 'vitest';
import { StopSignalHold } from '../../src/backend/stop-signal-hold.js';
import { deferred } from '../support/deferred.js';

/** A hold over a fake wire, and `send` as the connections write: held while a stop is on its way. */
function onWire() {
  const wire: string[] = [];
  const hold = new StopSignalHold(
    (b) => wire.push(Buffer.from(b).toString()),
    () => undefined,
  );
  const send = (text: string) => {
    if (hold.holding) hold.hold(Buffer.from(text));
    else wire.push(text);
  };
  return { wire, hold, send };
}

const flushed = () => new Promise((r) => setImmediate(r));

describe('StopSignalHold', () => {
  it('writes at once while no stop is on its way', () => {
    const { wire, hold, send } = onWire();
    send('a');
    expect(wire).toEqual(['a']);
    expect(hold.inFlight).toBeNull();
  });

  it('holds writes, in order, until the stop is delivered', async () => {
    const { wire, hold, send } = onWire();
    const cancel = deferred();
    hold.stop(() => cancel.promise);
    send('a');
    send('b');
    expect(wire).toEqual([]);
    cancel.resolve();
    await hold.inFlight;
    expect(wire).toEqual(['a', 'b']);
    expect(hold.inFlight).toBeNull();
  });

  it('a stop asked for while writes wait starts only after they have left', async () => {
    const { wire, hold, send } = onWire();
    const first = deferred();
    const second = deferred();
    const started: string[][] = [];
    hold.stop(() => first.promise);
    send('next');
    hold.stop(() => {
      // Sent now it would find the connection idle: the held statement must be on the wire first.
      started.push([...wire]);
      return second.promise;
    });
    first.resolve();
    await flushed();
    expect(started).toEqual([['next']]);
    send('after');
    expect(wire).toEqual(['next']);
    second.resolve();
    await flushed();
    expect(wire).toEqual(['next', 'after']);
    expect(hold.inFlight).toBeNull();
  });

  it('two stops with nothing held both go at once, and writes wait for both', async () => {
    const { wire, hold, send } = onWire();
    let starts = 0;
    const first = deferred();
    const second = deferred();
    const counted = (p: Promise<void>) => () => {
      starts++;
      return p;
    };
    hold.stop(counted(first.promise));
    hold.stop(counted(second.promise));
    expect(starts).toBe(2);
    send('x');
    first.resolve();
    await flushed();
    expect(wire).toEqual([]);
    second.resolve();
    await flushed();
    expect(wire).toEqual(['x']);
  });

  it('settles when a held write finds the socket gone, dropping the rest, and writes again after', async () => {
    const wire: string[] = [];
    let socketGone = true;
    const hold = new StopSignalHold(
      (b) => {
        if (socketGone) throw new Error('write after end');
        wire.push(Buffer.from(b).toString());
      },
      () => undefined,
    );
    const signal = deferred();
    hold.stop(() => signal.promise);
    hold.hold(Buffer.from('a'));
    hold.hold(Buffer.from('b'));
    signal.resolve();
    await flushed();
    expect(hold.inFlight).toBeNull();
    expect(hold.holding).toBe(false);
    // Nothing held is left behind to reach a later connection's owner.
    socketGone = false;
    hold.stop(() => Promise.resolve());
    await flushed();
    expect(wire).toEqual([]);
  });

  it('settles when sending the stop fails, so the connection is not held for good', async () => {
    const { wire, hold, send } = onWire();
    hold.stop(() => Promise.reject(new Error('cancel connection refused')));
    send('next');
    await flushed();
    expect(hold.inFlight).toBeNull();
    expect(wire).toEqual(['next']);
  });
});
