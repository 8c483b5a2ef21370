// The fence between the workers of one instance (src/control/worker-fence.ts and
// worker-fence-arbiter.ts), with the IPC replaced by asynchronous calls and members of our own
// CutoverMember port that acknowledge or not: a round switches only once every worker acked, and
// every worker hears one decision; a worker that does not ack, or exits before acking, aborts it.
import { describe, expect, it } from 'vitest';
import type { CutoverMember, SwitchEntry } from '../../src/control/control-plane.js';
import { type FenceMessage, WorkerFence } from '../../src/control/worker-fence.js';
import { WorkerFenceArbiter } from '../../src/control/worker-fence-arbiter.js';
import type { SplitPlan } from '../../src/migration/plan.js';

const quiet = { info: () => undefined, warn: () => undefined };

class FakeMember implements CutoverMember {
  held: string[][] = [];
  outcomes: Array<SwitchEntry | null> = [];
  constructor(private readonly acks: boolean) {}
  // Typed by the port: its parameters are written once, there.
  hold: CutoverMember['hold'] = async (shards, _o, drained, decided) => {
    this.held.push(shards);
    if (this.acks) await drained();
    this.outcomes.push((await decided).entry);
  };
  apply(): void {}
  wouldApply(): boolean {
    return true;
  }
  markApplied(): void {}
  fenceAll(): void {}
}

function instance(acks: boolean[]) {
  const live = new Set(acks.map((_, i) => i));
  const members = acks.map((a) => new FakeMember(a));
  const fences: WorkerFence[] = [];
  const arbiter = new WorkerFenceArbiter(
    () => [...live],
    (i, msg) => setImmediate(() => live.has(i) && fences[i]!.onMessage(msg)),
    quiet,
  );
  for (const [i, m] of members.entries())
    fences.push(
      new WorkerFence(
        i,
        (w) => `sg.w${w}`,
        m,
        (msg: FenceMessage) => setImmediate(() => live.has(i) && arbiter.onMessage(msg)),
        quiet,
      ),
    );
  return {
    members,
    fences,
    arbiter,
    exit(i: number) {
      live.delete(i);
      arbiter.onExit(i);
    },
  };
}

const hold = { migrationId: 'm1', shards: ['s0'], graceMs: 10, deadlineMs: 5_000 };
const entry = { migrationId: 'm1', kind: 'switch' as const, plan: {} as SplitPlan, positions: {} };
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('the fence between workers', () => {
  it('switches once every worker acked; each member gets the entry at the next version', async () => {
    const w = instance([true, true, true]);
    const round = await w.fences[0]!.begin(hold);
    expect(round.members).toEqual(['sg.w1', 'sg.w2']);
    await round.acknowledged(5_000);
    await round.commit(entry);
    await settle();
    for (const m of w.members.slice(1)) {
      expect(m.held).toEqual([['s0']]);
      expect(m.outcomes).toEqual([{ ...entry, version: round.version + 1 }]);
    }
    expect(w.members[0]!.held).toEqual([]);
    // The next round starts at the version this one committed.
    const next = await w.fences[0]!.begin(hold);
    expect(next.version).toBe(round.version + 1);
  });

  it('a worker that does not ack: acknowledged rejects, the abort releases everyone, commit throws', async () => {
    const w = instance([true, true, false]);
    const round = await w.fences[0]!.begin(hold);
    await expect(round.acknowledged(50)).rejects.toThrow(/not every worker acknowledged/);
    await round.abort('deadline');
    await settle();
    for (const m of w.members.slice(1)) expect(m.outcomes).toEqual([null]);
    await expect(round.commit(entry)).rejects.toThrow(/deadline/);
  });

  it('a worker that exits before acking aborts the round; one that exits after its ack does not', async () => {
    const w = instance([true, false, true]);
    const round = await w.fences[0]!.begin(hold);
    w.exit(1);
    await expect(round.acknowledged(5_000)).rejects.toThrow(/worker 1 exited before acknowledging/);
    await settle();
    expect(w.members[2]!.outcomes).toEqual([null]);

    const v = instance([true, true, true]);
    const again = await v.fences[0]!.begin(hold);
    await again.acknowledged(5_000);
    v.exit(2);
    await again.commit(entry);
    await settle();
    expect(v.members[1]!.outcomes).toEqual([{ ...entry, version: again.version + 1 }]);
  });

  it('one round at a time; the controller exiting aborts its round', async () => {
    const w = instance([true, true, true]);
    await w.fences[0]!.begin(hold);
    await expect(w.fences[1]!.begin(hold)).rejects.toThrow(/another cutover/);
    w.exit(0);
    await settle();
    for (const m of w.members.slice(1)) expect(m.outcomes).toEqual([null]);
  });
});
