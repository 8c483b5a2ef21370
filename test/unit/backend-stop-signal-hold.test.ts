import { describe, expect, it } from 'vitest';
import { StopSignalHold } from '../../src/backend/stop-signal-hold.js';
import { deferred } from '../support/deferred.js';

/** How the connections write: held while a stop is on its way, else on the wire. */
function send(hold: StopSignalHold, bytes: Buffer, wire: string[]): void {
  if (hold.holding) hold.hold(bytes);
  else wire.push(bytes.toString());
}

const flushed = () => new Promise((r) => setImmediate(r));

describe('StopSignalHold', () => {
  it('writes at once while no stop is on its way', () => {
    const wire: string[] = [];
    const hold = new StopSignalHold(
      (b) => wire.push(Buffer.from(b).toString()),
      () => undefined,
    );
    send(hold, Buffer.from('a'), wire);
    expect(wire).toEqual(['a']);
    expect(hold.inFlight).toBeNull();
  });

  it('holds writes, in order, until the stop is delivered', async () => {
    const wire: string[] = [];
    const hold = new StopSignalHold(
      (b) => wire.push(Buffer.from(b).toString()),
      () => undefined,
    );
    const cancel = deferred();
    hold.stop(() => cancel.promise);
    send(hold, Buffer.from('a'), wire);
    send(hold, Buffer.from('b'), wire);
    expect(wire).toEqual([]);
    cancel.resolve();
    await hold.inFlight;
    expect(wire).toEqual(['a', 'b']);
    expect(hold.inFlight).toBeNull();
  });

  it('a stop asked for while writes wait starts only after they have left', async () => {
    const wire: string[] = [];
    const hold = new StopSignalHold(
      (b) => wire.push(Buffer.from(b).toString()),
      () => undefined,
    );
    const first = deferred();
    const second = deferred();
    const started: string[][] = [];
    hold.stop(() => first.promise);
    send(hold, Buffer.from('next'), wire);
    hold.stop(() => {
      // Sent now it would find the connection idle: the held statement must be on the wire first.
      started.push([...wire]);
      return second.promise;
    });
    first.resolve();
    await flushed();
    expect(started).toEqual([['next']]);
    send(hold, Buffer.from('after'), wire);
    expect(wire).toEqual(['next']);
    second.resolve();
    await flushed();
    expect(wire).toEqual(['next', 'after']);
    expect(hold.inFlight).toBeNull();
  });

  it('two stops with nothing held both go at once, and writes wait for both', async () => {
    const wire: string[] = [];
    let starts = 0;
    const hold = new StopSignalHold(
      (b) => wire.push(Buffer.from(b).toString()),
      () => undefined,
    );
    const first = deferred();
    const second = deferred();
    const counted = (p: Promise<void>) => () => {
      starts++;
      return p;
    };
    hold.stop(counted(first.promise));
    hold.stop(counted(second.promise));
    expect(starts).toBe(2);
    send(hold, Buffer.from('x'), wire);
    first.resolve();
    await flushed();
    expect(wire).toEqual([]);
    second.resolve();
    await flushed();
    expect(wire).toEqual(['x']);
  });
});
