// Cancels and KILLs between the worker processes of one instance (`workers > 1`): a client may send
// them to any worker, and the one whose index the id carries holds the session. Both travel as a
// message naming the destination `worker`, which the primary passes on. A PostgreSQL cancel needs
// no answer; a MySQL KILL does (the killer gets OK or an error), so the owner replies the same way.
import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { PEER_TIMEOUT_MS } from '../control/peer-fetch.js';
import type { KillOrder, KillOutcome } from '../protocol/mysql/kill-router.js';

export interface CancelMessage {
  type: 'cancel';
  worker: number;
  processId: number;
  secretKey: number;
  fromPeer: boolean;
}
interface KillAsk {
  type: 'kill';
  worker: number;
  id: number;
  from: number;
  order: KillOrder;
}
interface KillReply {
  type: 'kill-reply';
  worker: number;
  id: number;
  outcome: KillOutcome;
}

const toWorker = (m: unknown): m is { type: string; worker: number } =>
  typeof (m as { worker?: unknown })?.worker === 'number';
const isCancel = (m: unknown): m is CancelMessage => toWorker(m) && (m as CancelMessage).type === 'cancel';
const isKillAsk = (m: unknown): m is KillAsk =>
  toWorker(m) && (m as KillAsk).type === 'kill' && typeof (m as KillAsk).order?.id === 'number';
const isKillReply = (m: unknown): m is KillReply =>
  toWorker(m) && (m as KillReply).type === 'kill-reply' && typeof (m as KillReply).outcome === 'object';

/**
 * In the primary: passes cancels, KILLs and their replies to the worker they name. A cancel naming
 * a worker index this instance has no worker for names a worker of a larger instance: the sender
 * gets it back as its own, holds no such session and forwards it to the other instances. A KILL
 * for a worker that is gone is answered "unknown" here: its sessions went with it.
 */
export function routeRelayMessages(
  forks: ReadonlyMap<number, Worker>,
  sender: Worker,
  msg: unknown,
  log: Logger,
): void {
  if (isCancel(msg)) {
    const owner = forks.get(msg.worker) ?? (msg.fromPeer ? undefined : sender);
    if (owner?.isConnected()) owner.send(msg);
    else log.debug({ worker: msg.worker }, 'forwarded cancel names no worker of this instance: dropped');
  } else if (isKillAsk(msg)) {
    const owner = forks.get(msg.worker);
    if (owner?.isConnected()) owner.send(msg);
    else
      sender.send({
        type: 'kill-reply',
        worker: msg.from,
        id: msg.id,
        outcome: { kind: 'unknown' },
      } satisfies KillReply);
  } else if (isKillReply(msg)) {
    const asker = forks.get(msg.worker);
    if (asker?.isConnected()) asker.send(msg);
  }
}

/** In worker `self`: the relays of cancels and KILLs, and the handler of what the primary passes on. */
export function workerRelay(
  self: number,
  send: (msg: CancelMessage | KillAsk | KillReply) => void,
): {
  relayCancel(worker: number, processId: number, secretKey: number, fromPeer: boolean): void;
  relayKill(worker: number, order: KillOrder): Promise<KillOutcome>;
  onMessage(
    msg: unknown,
    serve: { cancel(m: CancelMessage): void; kill(order: KillOrder): KillOutcome },
  ): void;
} {
  const pending = new Map<number, (outcome: KillOutcome) => void>();
  let next = 1;
  return {
    relayCancel(worker, processId, secretKey, fromPeer) {
      send({ type: 'cancel', worker, processId, secretKey, fromPeer });
    },
    relayKill(worker, order) {
      const id = next++;
      return new Promise((resolve) => {
        // A worker that does not answer may still hold the session: not "unknown" for sure.
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve({ kind: 'unreached', members: [`worker ${worker}`] });
        }, PEER_TIMEOUT_MS);
        pending.set(id, (outcome) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(outcome);
        });
        send({ type: 'kill', worker, id, from: self, order });
      });
    },
    onMessage(msg, serve) {
      if (isCancel(msg)) serve.cancel(msg);
      else if (isKillAsk(msg))
        send({ type: 'kill-reply', worker: msg.from, id: msg.id, outcome: serve.kill(msg.order) });
      else if (isKillReply(msg)) pending.get(msg.id)?.(msg.outcome);
    },
  };
}
