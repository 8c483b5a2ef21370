// The rules between the workers of one instance without etcd (src/control/worker-rules-relay.ts in
// the primary, worker-control.ts in each worker), with the IPC replaced by asynchronous calls: a
// change made on one worker applies on every worker that joined, the publisher's promise resolves
// once its own copy applied, and a worker that joins later (or again, after a restart) gets the
// latest setting of every rule first. Also the restart back-off of worker-supervisor.ts.
import { describe, expect, it } from 'vitest';
import type { RuleChange } from '../../src/admin/api-rules.js';
import { restartDelayMs } from '../../src/cli/worker-supervisor.js';
import type { MemberInfo } from '../../src/control/control-plane.js';
import { WorkerControl } from '../../src/control/worker-control.js';
import { type RulesMessage, WorkerRulesRelay } from '../../src/control/worker-rules-relay.js';

const quiet = { warn: () => undefined };
const self = (i: number): MemberInfo => ({
  id: `sg.w${i}`,
  admin: null,
  version: 'test',
  topologyVersion: 0,
  startedAt: new Date(0).toISOString(),
});

function instance() {
  const listeners = new Map<number, Set<(msg: unknown) => void>>();
  // To the worker process of index i at the time of sending (a restarted one has its own channel).
  const relay = new WorkerRulesRelay((i, msg) => {
    const to = listeners.get(i) ?? new Set();
    setImmediate(() => {
      for (const l of to) l(structuredClone(msg));
    });
  });
  /** Starts worker `i`; `applied` is every change it applied, in order. */
  const join = async (i: number) => {
    const applied: RuleChange[] = [];
    listeners.set(i, new Set());
    const control = new WorkerControl(
      i,
      {
        send: (msg: RulesMessage) => setImmediate(() => relay.onMessage(structuredClone(msg))),
        onMessage: (l) => listeners.get(i)?.add(l),
        offMessage: (l) => listeners.get(i)?.delete(l),
      },
      quiet,
    );
    await control.start(self(i), (c) => applied.push(c));
    return { control, applied };
  };
  const exit = (i: number) => {
    listeners.delete(i);
    relay.onExit(i);
  };
  return { join, exit };
}

const readOnly: RuleChange = { action: 'read-only', shard: 's0', persist: true };
const readWrite: RuleChange = { action: 'read-write', shard: 's0', persist: false };
const level: RuleChange = { action: 'set-level', dataType: 'orders', level: 'strong', persist: false };

describe('worker rules relay', () => {
  it('applies a change on every joined worker; the publisher resolves after applying it', async () => {
    const sg = instance();
    const w0 = await sg.join(0);
    const w1 = await sg.join(1);
    await w0.control.publishRule(readOnly);
    // Its own copy came back before the promise resolved; the file is the publisher's to write.
    expect(w0.applied).toEqual([{ ...readOnly, persist: false }]);
    await new Promise((r) => setImmediate(r));
    expect(w1.applied).toEqual([{ ...readOnly, persist: false }]);
  });

  it('gives a worker that joins later the latest setting of each rule', async () => {
    const sg = instance();
    const w0 = await sg.join(0);
    await w0.control.publishRule(readOnly);
    await w0.control.publishRule(level);
    await w0.control.publishRule(readWrite);
    const w1 = await sg.join(1);
    expect(w1.applied).toEqual([readWrite, level]);
  });

  it('gives a restarted worker the rules, and relays later changes to it once', async () => {
    const sg = instance();
    const w0 = await sg.join(0);
    await sg.join(1);
    await w0.control.publishRule(readOnly);
    sg.exit(1);
    const again = await sg.join(1);
    expect(again.applied).toEqual([{ ...readOnly, persist: false }]);
    await w0.control.publishRule(level);
    await new Promise((r) => setImmediate(r));
    expect(again.applied).toEqual([{ ...readOnly, persist: false }, level]);
  });

  it('keeps going when a worker cannot apply a rule', async () => {
    const listeners = new Set<(msg: unknown) => void>();
    const relay = new WorkerRulesRelay((_i, msg) =>
      setImmediate(() => {
        for (const l of listeners) l(msg);
      }),
    );
    const failing = new WorkerControl(
      1,
      {
        send: (msg) => setImmediate(() => relay.onMessage(msg)),
        onMessage: (l) => listeners.add(l),
        offMessage: (l) => listeners.delete(l),
      },
      quiet,
    );
    const applied: RuleChange[] = [];
    await failing.start(self(1), (c) => {
      if (c.action === 'read-only') throw new Error('unknown shard');
      applied.push(c);
    });
    // The publisher hears its own failure (the admin API answers it); later rules still apply.
    await expect(failing.publishRule(readOnly)).rejects.toThrow('unknown shard');
    await failing.publishRule(level);
    expect(applied).toEqual([level]);
  });
});

describe('worker restart back-off', () => {
  it('doubles from 1 s and stays at 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(restartDelayMs)).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });
});
