// The controller's wait for acknowledgements (control/ack-watch.ts) over watch streams of its own:
// acks of this hold and membership changes settle the round, and a watch that etcd ends with an
// error (a cancelled watch, e.g. after compaction) fails the round at once instead of at its deadline.
import { EventEmitter } from 'node:events';
import type { IKeyValue } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { AckWatch, type WatchStream } from '../../src/control/ack-watch.js';

class Stream extends EventEmitter implements WatchStream {
  cancelled = false;
  async cancel(): Promise<void> {
    this.cancelled = true;
  }
}

const kv = (key: string, value = '') => ({ key: Buffer.from(key), value: Buffer.from(value) }) as IKeyValue;
// A deadline no test reaches: each round must settle by the streams' events alone.
const NEVER = 3_600_000;

function setup() {
  const acks = new Stream();
  const members = new Stream();
  const w = AckWatch.watching(['b', 'c'], '7', acks, members);
  return { acks, members, w };
}

describe('AckWatch', () => {
  it('resolves once every live member has acknowledged this hold', async () => {
    const { acks, members, w } = setup();
    const round = w.acknowledged(NEVER);
    acks.emit('put', kv('cutover/acks/b', JSON.stringify({ hold: '6' })));
    expect(w.missing()).toEqual(['b', 'c']);
    acks.emit('put', kv('cutover/acks/b', JSON.stringify({ hold: '7' })));
    members.emit('delete', kv('members/c'));
    await expect(round).resolves.toBeUndefined();
  });

  it('fails the round at once when the acks watch ends with an error', async () => {
    const { acks, w } = setup();
    const round = w.acknowledged(NEVER);
    acks.emit('error', new Error('Watcher canceled: mvcc: required revision has been compacted'));
    await expect(round).rejects.toThrow(/watch on acknowledgements ended: .*compacted/);
    // A later round of the same watch fails too: the stream is gone.
    await expect(w.acknowledged(NEVER)).rejects.toThrow(/watch on acknowledgements ended/);
    await w.close();
    expect(acks.cancelled).toBe(true);
  });

  it('fails the round when the members watch ends with an error, even before the round', async () => {
    const { members, w } = setup();
    members.emit('error', new Error('Watcher canceled'));
    await expect(w.acknowledged(NEVER)).rejects.toThrow(/watch on members ended/);
  });
});
