// Pruning old switches of the shared topology (docs/control-plane.md, "Pruning"), against a real
// etcd (1 member; no PostgreSQL needed): two EtcdControl instances, each with a member that
// records the switches it applies, run four fenced rounds through the first. Afterwards only the
// current and the previous switch are stored, `cutover/pruned` names the rest, and an instance
// starting later is refused unless its own state already has the pruned switches in force.
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CutoverMember, HoldDecision, SwitchEntry } from '../../src/control/control-plane.js';
import { PRUNED_KEY, TOPOLOGY_PREFIX } from '../../src/control/cutover-keys.js';
import { EtcdControl } from '../../src/control/etcd-control.js';
import { EtcdCluster } from '../../src/local/etcd-cluster.js';
import { waitFor } from '../support/wait-for.js';

const quiet = { info: () => undefined, warn: () => undefined };
const NS = 'prune/';
const member = (id: string) => ({ id, admin: null, version: 'test', topologyVersion: 0, startedAt: '' });

/** A member that records what it applies (the topology it would route by), per migration. */
class RecordingMember implements CutoverMember {
  readonly applied: string[] = [];
  private readonly switched = new Map<string, boolean>();
  constructor(switchedAtStart: string[] = []) {
    for (const id of switchedAtStart) this.switched.set(id, true);
  }
  async hold(_shards: string[], _o: unknown, drained: () => Promise<void>, decided: Promise<HoldDecision>) {
    await drained();
    const { entry } = await decided;
    if (entry) this.apply(entry);
  }
  apply(entry: SwitchEntry) {
    if (!this.wouldApply(entry)) return;
    this.markApplied(entry);
    this.applied.push(`${entry.kind} ${entry.migrationId}`);
  }
  wouldApply(entry: Pick<SwitchEntry, 'migrationId' | 'kind'>) {
    return (this.switched.get(entry.migrationId) ?? false) !== (entry.kind === 'switch');
  }
  markApplied(entry: SwitchEntry) {
    this.switched.set(entry.migrationId, entry.kind === 'switch');
  }
  fenceAll() {}
}

let etcd: EtcdCluster;
let raw: Etcd3;
const controls: EtcdControl[] = [];

async function startControl(id: string, m: CutoverMember): Promise<EtcdControl> {
  const control = new EtcdControl({ endpoints: etcd.endpoints, namespace: 'prune' }, quiet);
  controls.push(control);
  await control.start(member(id), () => undefined, m);
  return control;
}

async function storedVersions(): Promise<number[]> {
  const keys = await raw.getAll().prefix(`${NS}${TOPOLOGY_PREFIX}`).keys();
  return keys.map((k) => Number(k.slice(NS.length + TOPOLOGY_PREFIX.length))).sort((a, b) => a - b);
}

beforeAll(async () => {
  etcd = await EtcdCluster.start({ members: 1 });
  raw = new Etcd3({ hosts: etcd.endpoints.map((e) => `http://${e}`) });
}, 60_000);

afterAll(async () => {
  for (const c of controls) await c.close().catch(() => undefined);
  raw?.close();
  await etcd?.stop();
});

describe('pruning the shared topology', () => {
  const controllerMember = new RecordingMember();
  const otherMember = new RecordingMember();

  it('keeps the current and the previous switch once every member has applied them', async () => {
    const controller = await startControl('ctl', controllerMember);
    await startControl('other', otherMember);
    for (const id of ['m1', 'm2', 'm3', 'm4']) {
      const round = await controller.fence!.begin({
        migrationId: id,
        shards: ['s0'],
        graceMs: 100,
        deadlineMs: 30_000,
      });
      expect(round.members).toEqual(['other']);
      await round.acknowledged(30_000);
      // The plan is the member's business; the recording member does not read it.
      await round.commit({ migrationId: id, kind: 'switch', plan: {} as SwitchEntry['plan'], positions: {} });
      await waitFor(`other applied ${id}`, () => otherMember.applied.at(-1) === `switch ${id}`, 10_000);
      // The next round starts once the other member has reported the version (as a controller
      // would find it at its next migration).
      await waitFor(
        `other reports version ${round.version + 1}`,
        async () =>
          (await controller.members()).find((m) => m.id === 'other')?.clusterVersion === round.version + 1,
        10_000,
      );
    }
    expect(otherMember.applied).toEqual(['switch m1', 'switch m2', 'switch m3', 'switch m4']);
    // The prune after switch 4 ran while `other` was still at 3: 1 and 2 went; after it, 3 and 4 stay.
    await waitFor('versions below 3 pruned', async () => (await storedVersions()).join() === '3,4', 10_000);
    const pruned = JSON.parse((await raw.get(`${NS}${PRUNED_KEY}`).string())!);
    expect(pruned).toEqual({ below: 3, switched: { m1: 'switch', m2: 'switch' } });
  }, 120_000);

  it('refuses an instance that lacks a pruned switch, starts one that has them all', async () => {
    // Compared as a word, never as the control: a failure would diff its whole etcd client
    // (buffers included) and that report overflowed vitest's worker channel (RangeError).
    await expect(startControl('late', new RecordingMember()).then(() => 'started')).rejects.toThrow(
      /below version 3 were pruned and this instance lacks switch m1, switch m2/,
    );
    // Its state files had m1 and m2 switched: it applies only what is still stored.
    const late = new RecordingMember(['m1', 'm2']);
    await startControl('late2', late);
    expect(late.applied).toEqual(['switch m3', 'switch m4']);
  }, 60_000);
});
