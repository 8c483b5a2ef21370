// An instance cut off from etcd (its only etcd member stopped, the other two keep a quorum):
// it keeps the rules it had, cannot publish, drops out of the member list when its lease ends,
// and when its member is back it applies every change it missed, in order, and registers again.
// EtcdControl directly (no PostgreSQL needed): what it applies is recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuleChange } from '../../src/admin/api-rules.js';
import { EtcdControl } from '../../src/control/etcd-control.js';
import { EtcdCluster } from '../../src/local/etcd-cluster.js';
import { waitFor } from '../support/wait-for.js';

const quiet = { info: () => undefined, warn: () => undefined };
const level = (lvl: 'strong' | 'weak' | 'eventual'): RuleChange => ({
  action: 'set-level',
  dataType: 'user_posts',
  level: lvl,
  persist: false,
});
const member = (id: string) => ({ id, admin: null, version: 'test', topologyVersion: 0, startedAt: '' });

describe('an instance cut off from etcd', () => {
  let etcd: EtcdCluster;
  let healthy: EtcdControl;
  let cutOff: EtcdControl;
  const seenByCutOff: string[] = [];

  beforeAll(async () => {
    etcd = await EtcdCluster.start({ members: 3 });
    const [m0, m1, m2] = etcd.endpoints;
    healthy = new EtcdControl({ endpoints: [m0!, m1!], namespace: 'p' }, quiet, 1);
    cutOff = new EtcdControl({ endpoints: [m2!], namespace: 'p' }, quiet, 1);
    await healthy.start(member('healthy'), () => undefined);
    await cutOff.start(member('cut-off'), (c) =>
      seenByCutOff.push(c.action === 'set-level' ? c.level : c.action),
    );
  }, 60_000);

  afterAll(async () => {
    await healthy?.close();
    await cutOff?.close();
    await etcd?.stop();
  });

  it('misses nothing: the changes made meanwhile apply in order once it is back', async () => {
    await healthy.publishRule(level('strong'));
    await waitFor('cut-off instance applied strong', () => seenByCutOff.at(-1) === 'strong', 10_000);

    await etcd.stopMember('m2');
    await healthy.publishRule(level('weak'));
    await healthy.publishRule(level('eventual'));
    // Its lease (1 s) ends while it cannot reach etcd: the others stop listing it.
    await waitFor(
      'cut-off member gone from the list',
      async () => !(await healthy.members()).some((m) => m.id === 'cut-off'),
      15_000,
      50,
    );
    // It keeps the rules it had; it cannot publish.
    expect(seenByCutOff.at(-1)).toBe('strong');
    await expect(cutOff.publishRule(level('weak'))).rejects.toThrow();

    await etcd.startMember('m2');
    await waitFor('cut-off instance caught up', () => seenByCutOff.at(-1) === 'eventual', 30_000, 20);
    expect(seenByCutOff.slice(seenByCutOff.indexOf('strong'))).toEqual(['strong', 'weak', 'eventual']);
    await waitFor(
      'registered again',
      async () => (await healthy.members()).some((m) => m.id === 'cut-off'),
      30_000,
      50,
    );
  });
});
