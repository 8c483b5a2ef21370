// Opening an etcd watch without losing events. etcd3's `WatchBuilder.create()` resolves after the
// watcher's 'connected' event; etcd sends the events since the start revision right behind its
// created response, so they were emitted before the caller could add its listeners, and lost (a
// controller missed an ack already stored, and waited for it until its deadline: the
// control-plane-prune timeout). Here the listeners go on before the create request is sent.
// Also: on every 'connected' (a reconnect too) etcd3 moves the revision a later reconnect resumes
// from to the created response's header revision, past events etcd has not delivered yet; it is
// moved back to the one after the last delivered event, so a reconnect skips nothing.
import type { WatchBuilder, Watcher } from 'etcd3';

/** Creates the watcher, lets `listen` attach its listeners, then waits until etcd created it. */
export async function openWatch(builder: WatchBuilder, listen: (watcher: Watcher) => void): Promise<Watcher> {
  const watcher = builder.watcher();
  let next = watcher.request.start_revision;
  // Registered after etcd3's own listeners (the constructor's): they run after its revision update.
  // Each batch resumes after its last event, not after its header revision: etcd splits a long
  // catch-up into batches that all carry the current revision. An empty batch (a progress
  // notification, sent only to a watcher that is in sync) does cover up to its header revision.
  // Set at once too: a reconnect re-sends the request before its 'connected'.
  watcher.on('data', (res) => {
    const last = res.events.at(-1);
    next = String(BigInt(last ? last.kv.mod_revision : res.header.revision) + 1n);
    watcher.request.start_revision = next;
  });
  watcher.on('connected', () => {
    if (next !== undefined && next !== null) watcher.request.start_revision = next;
  });
  listen(watcher);
  await new Promise<void>((resolve, reject) => {
    const connected = () => {
      watcher.off('error', failed);
      resolve();
    };
    const failed = (err: Error) => {
      watcher.off('connected', connected);
      reject(err);
    };
    watcher.once('connected', connected);
    watcher.once('error', failed);
  });
  return watcher;
}
