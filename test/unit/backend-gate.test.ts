import { describe, expect, it } from 'vitest';
import { Gate } from '../../src/backend/gate.js';
import { deferred } from '../support/deferred.js';

describe('Gate', () => {
  it('runs at most its limit at once and starts the others in arrival order', async () => {
    const gate = new Gate(2);
    const tasks = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = tasks.map((t, i) =>
      gate.run(async () => {
        started.push(i);
        await t.promise;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect([gate.active, gate.queued]).toEqual([2, 2]);
    tasks[1]!.resolve();
    await runs[1];
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    tasks[0]!.resolve();
    tasks[2]!.resolve();
    tasks[3]!.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect([gate.active, gate.queued]).toEqual([0, 0]);
  });

  it('frees the slot of a task that fails', async () => {
    const gate = new Gate(1);
    const failing = deferred();
    const first = gate.run(() => failing.promise);
    const second = gate.run(async () => 'second');
    failing.reject(new Error('refused'));
    await expect(first).rejects.toThrow('refused');
    expect(await second).toBe('second');
    expect(gate.active).toBe(0);
  });

  it('refuses a limit below one', () => {
    expect(() => new Gate(0)).toThrow(RangeError);
  });
});
