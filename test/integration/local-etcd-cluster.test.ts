// The etcd launcher against the real etcd binary: a single member and a three-member cluster
// come up on free loopback ports, serve reads and writes, survive the loss of one member (quorum
// of two), and take the member back; stop() removes every data directory.
import { existsSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { EtcdCluster } from '../../src/local/etcd-cluster.js';

describe('local etcd cluster', () => {
  const started: EtcdCluster[] = [];
  afterAll(async () => {
    for (const c of started) await c.stop();
  });

  it('starts one member that stores and returns a key, and stop() removes its data', async () => {
    const etcd = await EtcdCluster.start({ members: 1 });
    started.push(etcd);
    expect(etcd.url).toMatch(/^etcd:\/\/127\.0\.0\.1:\d+$/);
    const client = new Etcd3({ hosts: etcd.endpoints.map((e) => `http://${e}`) });
    try {
      await client.put('k').value('v');
      expect(await client.get('k').string()).toBe('v');
    } finally {
      client.close();
    }
    await etcd.stop();
    expect(existsSync(etcd.baseDir)).toBe(false);
  });

  it('starts three members that keep quorum with one lost, and take it back', async () => {
    const etcd = await EtcdCluster.start({ members: 3 });
    started.push(etcd);
    expect(new Set(etcd.endpoints).size).toBe(3);
    const client = new Etcd3({ hosts: etcd.endpoints.map((e) => `http://${e}`) });
    try {
      const list = await client.cluster.memberList({});
      expect(list.members.map((m) => m.name).sort()).toEqual(['m0', 'm1', 'm2']);
      await etcd.stopMember('m0');
      expect(etcd.isRunning('m0')).toBe(false);
      await client.put('after-loss').value('2 of 3');
      expect(await client.get('after-loss').string()).toBe('2 of 3');
      await etcd.startMember('m0');
      // The returning member serves the write made while it was down.
      const only = new Etcd3({ hosts: `http://${etcd.members[0]?.endpoint}` });
      try {
        expect(await only.get('after-loss').string()).toBe('2 of 3');
      } finally {
        only.close();
      }
    } finally {
      client.close();
    }
  });
});
