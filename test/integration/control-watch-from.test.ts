// Watches opened from a past revision (src/control/watch-from.ts), against a real etcd (1 member):
// what was stored between that revision and the watch's creation comes behind etcd's created
// response and must reach the listeners. etcd3's `create()` lets the caller listen only after it,
// and so dropped those events: a controller never saw an ack stored before its ack watch existed,
// and waited for it until its deadline (control-plane-prune timed out that way).
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckWatch } from '../../src/control/ack-watch.js';
import { ackKey, HOLD_KEY } from '../../src/control/cutover-keys.js';
import { openWatch } from '../../src/control/watch-from.js';
import { EtcdCluster } from '../../src/local/etcd-cluster.js';

let etcd: EtcdCluster;
let client: Etcd3;

beforeAll(async () => {
  etcd = await EtcdCluster.start({ members: 1 });
  client = new Etcd3({ hosts: etcd.endpoints.map((e) => `http://${e}`) });
}, 60_000);

afterAll(async () => {
  client?.close();
  await etcd?.stop();
});

/**
 * A busy process (a loaded machine): the event loop blocks 150 ms at a time, so etcd's created
 * response and the events behind it (sent within its 100 ms sync loop) are read in one burst.
 */
function busyProcess(): NodeJS.Timeout {
  return setInterval(() => {
    const until = Date.now() + 150;
    while (Date.now() < until);
  }, 1);
}

describe('a watch opened from a past revision', () => {
  it("counts a member's ack stored before the controller's ack watch was created", async () => {
    const ns = client.namespace('acks/');
    const lease = ns.lease(10);
    try {
      await lease.put('members/other').value('{}');
      const hold = await ns.put(HOLD_KEY).value('{}').exec();
      const holdRev = hold.header.revision;
      // The member acknowledges before the controller has read `members/` and opened its watches.
      await lease.put(ackKey('other')).value(JSON.stringify({ hold: holdRev }));
      // The stored ack comes in the same read as the created responses of the two watches.
      const busy = busyProcess();
      const acks = await AckWatch.open(ns, holdRev, 'ctl').finally(() => clearInterval(busy));
      try {
        expect(acks.expected).toEqual(['other']);
        // The bound only ends a failing run: the ack is stored, nothing needs to arrive.
        await acks.acknowledged(10_000);
        expect(acks.missing()).toEqual([]);
      } finally {
        await acks.close();
      }
    } finally {
      await lease.revoke();
    }
  });
  it('resumes after the last delivered event when etcd splits the catch-up into batches', async () => {
    const ns = client.namespace('split/');
    // More revisions than etcd sends a catching-up watcher in one batch (1000).
    const first = (await ns.put('k0').value('0').exec()).header.revision;
    for (let i = 1; i < 1200; i += 100)
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          ns
            .put(`k${i + j}`)
            .value('x')
            .exec(),
        ),
      );
    const resumeFrom: Array<{ lastEvent: string; startRevision: unknown }> = [];
    let seen = 0;
    const watcher = await openWatch(ns.watch().prefix('').startRevision(first), (w) => {
      w.on('data', (res) => {
        seen += res.events.length;
        resumeFrom.push({
          lastEvent: res.events.at(-1)!.kv.mod_revision,
          startRevision: w.request.start_revision,
        });
      });
    });
    try {
      const deadline = Date.now() + 20_000;
      while (seen < 1201 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(seen).toBe(1201);
      expect(resumeFrom.length).toBeGreaterThan(1);
      // A reconnect after any batch asks for the revision after that batch's last event.
      for (const r of resumeFrom) expect(String(r.startRevision)).toBe(String(BigInt(r.lastEvent) + 1n));
    } finally {
      await watcher.cancel();
      await ns.delete().all();
    }
  }, 60_000);
});
