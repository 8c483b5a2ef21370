// The cluster view between the worker processes of one instance (`workers > 1`): a worker asks
// another for an admin path (its snapshot, its /metrics, its hot-key summary) through the primary
// process, which only routes the messages. A worker that does not answer within the timeout is
// reported unreachable, as a silent instance is (admin/cluster-view.ts).
import type { Worker } from 'node:cluster';
import type { WorkerPeers } from '../admin/cluster-view.js';
import { PEER_TIMEOUT_MS, type PeerReply } from '../control/peer-fetch.js';

interface ViewAsk {
  type: 'view-ask';
  id: number;
  from: number;
  to: number;
  path: string;
}
interface ViewReply {
  type: 'view-reply';
  id: number;
  to: number;
  reply: PeerReply;
}

const isAsk = (m: unknown): m is ViewAsk =>
  (m as ViewAsk)?.type === 'view-ask' &&
  typeof (m as ViewAsk).to === 'number' &&
  typeof (m as ViewAsk).path === 'string';
const isReply = (m: unknown): m is ViewReply =>
  (m as ViewReply)?.type === 'view-reply' && typeof (m as ViewReply).to === 'number';

/** In the primary: passes asks and replies on to the worker they are for. */
export function routeViewMessages(forks: ReadonlyMap<number, Worker>, msg: unknown): void {
  if (isAsk(msg) || isReply(msg)) {
    const target = forks.get(msg.to);
    if (target?.isConnected()) target.send(msg);
    else if (isAsk(msg))
      forks.get(msg.from)?.send({
        type: 'view-reply',
        id: msg.id,
        to: msg.from,
        reply: { ok: false, error: `worker ${msg.to} is gone` },
      } satisfies ViewReply);
  }
}

/** In worker `self` of `count`: the other workers, and the handler of messages from the primary. */
export function workerPeers(
  self: number,
  count: number,
  instanceId: string,
  send: (msg: ViewAsk | ViewReply) => void,
): { peers: WorkerPeers; onMessage(msg: unknown, answer: (path: string) => Promise<PeerReply>): void } {
  const idOf = (i: number) => (i === 0 ? instanceId : `${instanceId}.w${i}`);
  const pending = new Map<number, (reply: PeerReply) => void>();
  let next = 1;
  const peers: WorkerPeers = {
    ids: () =>
      Array.from({ length: count }, (_, i) => i)
        .filter((i) => i !== self)
        .map(idOf),
    ask(memberId, path) {
      const to = Array.from({ length: count }, (_, i) => i).find((i) => idOf(i) === memberId);
      if (to === undefined) return Promise.resolve({ ok: false, error: 'not a worker of this instance' });
      const id = next++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve({ ok: false, error: `worker ${to} did not answer within ${PEER_TIMEOUT_MS} ms` });
        }, PEER_TIMEOUT_MS);
        pending.set(id, (reply) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(reply);
        });
        send({ type: 'view-ask', id, from: self, to, path });
      });
    },
  };
  return {
    peers,
    onMessage(msg, answer) {
      if (isReply(msg)) pending.get(msg.id)?.(msg.reply);
      else if (isAsk(msg))
        void answer(msg.path)
          .catch((err: Error): PeerReply => ({ ok: false, error: err.message }))
          .then((reply) => send({ type: 'view-reply', id: msg.id, to: msg.from, reply }));
    },
  };
}
