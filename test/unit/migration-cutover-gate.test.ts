import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { CutoverGate, type GateParticipant, PositionTranslations } from '../../src/migration/cutover-gate.js';

/** A session as the gate sees it: an optional open transaction, and what aborting it does. */
class Session implements GateParticipant {
  txShard: string | null = null;
  aborted: ShardgateError | null = null;
  constructor(
    private readonly gate: CutoverGate,
    private readonly finishOnAbort = true,
  ) {
    gate.register(this);
  }
  openTransactionShard(): string | null {
    return this.txShard;
  }
  abortForCutover(_shards: readonly string[], error: ShardgateError): void {
    this.aborted = error;
    if (this.finishOnAbort) {
      this.txShard = null;
      this.gate.releaseWriter(this);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const options = { migrationId: 'm1', graceMs: 30, deadlineMs: 400 };

describe('cutover gate', () => {
  it('holds new writers until the switch and releases them with the outcome', async () => {
    const gate = new CutoverGate();
    const writer = new Session(gate);
    const order: string[] = [];
    const blocked = gate.block(['s0'], options, {
      catchUp: async () => {
        order.push('catch-up');
        await sleep(20);
      },
      switchTopology: () => {
        order.push('switch');
      },
    });
    expect(gate.isHeld('s0')).toBe(true);
    expect(gate.isHeld('s1')).toBe(false);
    const admitted = gate.admitWriter(writer, 's0').then((o) => {
      order.push(`released:${o}`);
      return o;
    });
    // Other shards are not held.
    expect(await gate.admitWriter(new Session(gate), 's1')).toBeNull();
    const report = await blocked;
    expect(await admitted).toBe('switched');
    expect(order).toEqual(['catch-up', 'switch', 'released:switched']);
    expect(report.outcome).toBe('switched');
    expect(report.heldStatements).toBe(1);
    expect(report.maxHeldMs).toBeGreaterThan(0);
    expect(gate.isHeld('s0')).toBe(false);
  });

  it('lets in-flight writers finish within the grace period, then aborts them with 40001', async () => {
    const gate = new CutoverGate();
    const quick = new Session(gate);
    const slow = new Session(gate);
    for (const s of [quick, slow]) {
      s.txShard = 's0';
      expect(await gate.admitWriter(s, 's0')).toBeNull();
    }
    setTimeout(() => {
      quick.txShard = null;
      gate.releaseWriter(quick);
    }, 5);
    const report = await gate.block(['s0'], options, { catchUp: async () => {}, switchTopology: () => {} });
    expect(quick.aborted).toBeNull();
    expect(slow.aborted?.sqlstate).toBe('40001');
    expect(report.abortedTransactions).toBe(1);
    expect(report.outcome).toBe('switched');
  });

  it('admits a session already inside a transaction on the held shard (in flight)', async () => {
    const gate = new CutoverGate();
    const inTx = new Session(gate);
    inTx.txShard = 's0';
    let finish!: () => void;
    const blocked = gate.block(['s0'], options, {
      catchUp: () => new Promise<void>((r) => (finish = r)),
      switchTopology: () => {},
    });
    // Its next statement goes through; the drain then waits for its transaction to end.
    expect(await gate.admitWriter(inTx, 's0')).toBeNull();
    inTx.txShard = null;
    gate.releaseWriter(inTx);
    await sleep(5);
    finish();
    expect((await blocked).outcome).toBe('switched');
  });

  it('aborts past the deadline, releases held writers against the old topology, never switches', async () => {
    const gate = new CutoverGate();
    let switched = false;
    let caughtUp = false;
    const waiting = new Session(gate);
    const blocked = gate.block(
      ['s0'],
      { ...options, deadlineMs: 50 },
      {
        catchUp: () =>
          sleep(2_000).then(() => {
            caughtUp = true;
          }),
        switchTopology: () => {
          switched = true;
        },
      },
    );
    const outcome = gate.admitWriter(waiting, 's0');
    const report = await blocked;
    expect(report.outcome).toBe('aborted');
    expect(report.reason).toMatch(/deadline/);
    // The block ended at its deadline, not when the slow catch-up finished.
    expect(caughtUp).toBe(false);
    expect(await outcome).toBe('aborted');
    expect(switched).toBe(false);
    // The shard takes writes again.
    expect(await gate.admitWriter(waiting, 's0')).toBeNull();
  });

  it('aborts when a writer never ends, even after being asked to', async () => {
    const gate = new CutoverGate();
    const stuck = new Session(gate, false);
    stuck.txShard = 's0';
    await gate.admitWriter(stuck, 's0');
    const report = await gate.block(
      ['s0'],
      { ...options, deadlineMs: 60 },
      { catchUp: async () => {}, switchTopology: () => {} },
    );
    expect(stuck.aborted?.code).toBe('CUTOVER_RETRY');
    expect(report.outcome).toBe('aborted');
  });

  it('aborts read-only transactions left open on the old shard at the switch', async () => {
    const gate = new CutoverGate();
    const reader = new Session(gate);
    reader.txShard = 's0';
    const report = await gate.block(['s0'], options, { catchUp: async () => {}, switchTopology: () => {} });
    expect(report.outcome).toBe('switched');
    expect(reader.aborted?.sqlstate).toBe('40001');
  });
});

describe('read-your-writes position translation', () => {
  it('replaces a switched shard by its halves and follows a rollback back', () => {
    const t = new PositionTranslations();
    const positions = new Map([
      ['s0', '0/10'],
      ['s1', '0/20'],
    ]);
    t.record(
      's0',
      new Map([
        ['s0a', '0/500'],
        ['s0b', '0/600'],
      ]),
    );
    t.apply(positions);
    expect(Object.fromEntries(positions)).toEqual({ s1: '0/20', s0a: '0/500', s0b: '0/600' });
    // Rollback: both halves translate back to s0, and s0 is no longer translated away.
    t.record('s0a', new Map([['s0', '0/900']]));
    t.record('s0b', new Map([['s0', '0/900']]));
    const untouched = new Map([['s0', '0/10']]);
    t.apply(untouched);
    expect(Object.fromEntries(untouched)).toEqual({ s0: '0/10' });
    t.apply(positions);
    expect(Object.fromEntries(positions)).toEqual({ s1: '0/20', s0: '0/900' });
  });

  it('a hold for another instance (no deadline) lasts until the decision, however late', async () => {
    const gate = new CutoverGate();
    const writer = new Session(gate);
    let decide!: () => void;
    const decided = new Promise<void>((r) => {
      decide = r;
    });
    let switched = false;
    const blocked = gate.block(
      ['s0'],
      { migrationId: 'remote', graceMs: 10, deadlineMs: Number.POSITIVE_INFINITY },
      {
        catchUp: () => decided,
        switchTopology: () => {
          switched = true;
        },
      },
    );
    const held = gate.admitWriter(writer, 's0');
    await sleep(50);
    expect(gate.isHeld('s0')).toBe(true);
    expect(switched).toBe(false);
    decide();
    expect(await held).toBe('switched');
    expect((await blocked).outcome).toBe('switched');
  });

  it('an abandoned hold ends while still draining: the in-flight writer is neither waited for nor aborted', async () => {
    const gate = new CutoverGate();
    const inFlight = new Session(gate);
    inFlight.txShard = 's0';
    await gate.admitWriter(inFlight, 's0');
    let abandon!: (why: string) => void;
    const abandoned = new Promise<string>((r) => {
      abandon = r;
    });
    let caughtUp = false;
    const blocked = gate.block(
      ['s0'],
      { migrationId: 'remote', graceMs: 60_000, deadlineMs: Number.POSITIVE_INFINITY, abandoned },
      {
        catchUp: async () => {
          caughtUp = true;
        },
        switchTopology: () => {},
      },
    );
    const held = gate.admitWriter(new Session(gate), 's0');
    abandon('the controller aborted the cutover');
    const report = await blocked;
    expect(report.outcome).toBe('aborted');
    expect(report.reason).toBe('the controller aborted the cutover');
    expect(await held).toBe('aborted');
    expect(gate.isHeld('s0')).toBe(false);
    expect(caughtUp).toBe(false);
    expect(inFlight.aborted).toBeNull();
  });

  it('fence: every shard held until caught up; an in-flight writer is aborted after the grace', async () => {
    const gate = new CutoverGate();
    const inFlight = new Session(gate);
    inFlight.txShard = 's1';
    expect(await gate.admitWriter(inFlight, 's1')).toBeNull();
    let caughtUp!: () => void;
    gate.fence(
      new Promise<void>((r) => {
        caughtUp = r;
      }),
      10,
    );
    expect(gate.blocking).toBe(true);
    const other = new Session(gate);
    let admitted: string | null | undefined;
    const waiting = gate.admitWriter(other, 's0').then((o) => {
      admitted = o;
    });
    await sleep(60);
    expect(inFlight.aborted?.code).toBe('CUTOVER_RETRY');
    expect(admitted).toBeUndefined();
    caughtUp();
    await waiting;
    expect(admitted).toBe('aborted'); // planned again against the caught-up topology
    expect(gate.blocking).toBe(false);
    expect(await gate.admitWriter(other, 's0')).toBeNull();
  });

  it('fence: a transaction open on a shard cannot start writing there (40001), whichever shard', async () => {
    const gate = new CutoverGate();
    let caughtUp!: () => void;
    gate.fence(
      new Promise<void>((r) => {
        caughtUp = r;
      }),
      10_000,
    );
    for (const shard of ['s0', 's1']) {
      const inTx = new Session(gate);
      inTx.txShard = 's0';
      // Refused at once, not after the fence: the shard may have been switched away meanwhile.
      expect(await gate.admitWriter(inTx, shard)).toBe('aborted');
      expect(inTx.aborted?.sqlstate).toBe('40001');
      expect(gate.writerCount(shard)).toBe(0);
    }
    caughtUp();
  });

  it('abortTransactionsOn aborts only transactions open on the given shards', () => {
    const gate = new CutoverGate();
    const onS0 = new Session(gate);
    onS0.txShard = 's0';
    const onS1 = new Session(gate);
    onS1.txShard = 's1';
    const idle = new Session(gate);
    const error = new ShardgateError('CUTOVER_RETRY', { shard: 's0', id: 'm1' });
    expect(gate.abortTransactionsOn(['s0'], error)).toBe(1);
    expect(onS0.aborted?.sqlstate).toBe('40001');
    expect(onS1.aborted).toBeNull();
    expect(idle.aborted).toBeNull();
  });
});
