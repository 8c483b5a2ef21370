// Where a MySQL KILL goes when no session of the process that received it matches: to the worker
// its connection id names (IPC through the primary), and then to the other instances of the
// deployment (the admin API, `--control etcd://`). The process that holds the session checks the
// killer's user there and answers what it did, so the killer gets OK only when a session was
// killed. The same routes as a PostgreSQL cancel (cancel-registry.ts), with an answer: a KILL
// that came from another instance is served here or by the owning worker, never forwarded again.
import { ConnectionIds } from './connection-ids.js';
import type { KillTarget } from './services.js';

/** One KILL as it travels: what to kill, and the user that asked (checked where the session is). */
export interface KillOrder {
  id: number;
  /** KILL QUERY (else KILL [CONNECTION]). */
  query: boolean;
  user: string | null;
}

/**
 * What the process holding the session did: `unreached` when some process that might hold it did
 * not answer (`members` names them), so "unknown" cannot be said for sure.
 */
export type KillOutcome =
  | { kind: 'killed' }
  | { kind: 'denied' }
  | { kind: 'unknown' }
  | { kind: 'unreached'; members: string[] };

export const UNKNOWN: KillOutcome = { kind: 'unknown' };

/** The session a KILL id names here: a shardgate connection id, else a server thread id a session holds. */
export function findKillTarget(sessions: ReadonlyMap<number, KillTarget>, id: number): KillTarget | null {
  const direct = sessions.get(id);
  if (direct) return direct;
  for (const s of sessions.values()) {
    for (const thread of s.backendThreads().values()) if (thread === id) return s;
  }
  return null;
}

/** Kills a session of this process for a KILL another process received (never the killer's own). */
export function killOwned(sessions: ReadonlyMap<number, KillTarget>, order: KillOrder): KillOutcome {
  const target = findKillTarget(sessions, order.id);
  if (!target) return UNKNOWN;
  if (target.user !== order.user) return { kind: 'denied' };
  if (order.query) target.killQuery();
  else target.killConnection();
  return { kind: 'killed' };
}

/** The first outcome that says something (killed, denied), else unreached if any, else unknown. */
export function combineOutcomes(outcomes: KillOutcome[]): KillOutcome {
  for (const kind of ['killed', 'denied'] as const)
    if (outcomes.some((o) => o.kind === kind)) return { kind };
  const members = outcomes.flatMap((o) => (o.kind === 'unreached' ? o.members : []));
  return members.length > 0 ? { kind: 'unreached', members } : UNKNOWN;
}

export class KillRouter {
  constructor(
    private readonly sessions: ReadonlyMap<number, KillTarget>,
    private readonly ids: ConnectionIds,
    /** Asks another worker of this instance to kill a session it holds (cluster mode). */
    private readonly relay?: (worker: number, order: KillOrder) => Promise<KillOutcome>,
    /** Asks the other instances (control plane members with an admin address). */
    private readonly forward?: (order: KillOrder) => Promise<KillOutcome>,
  ) {}

  /** A KILL a client of this process sent, no session of this process matching it. */
  elsewhere(order: KillOrder): Promise<KillOutcome> {
    return this.route(order, false);
  }

  /** A KILL another instance forwarded: served by this process or one of its workers only. */
  forwarded(order: KillOrder): Promise<KillOutcome> {
    return this.route(order, true);
  }

  private async route(order: KillOrder, fromPeer: boolean): Promise<KillOutcome> {
    const here = fromPeer ? killOwned(this.sessions, order) : UNKNOWN;
    if (here.kind !== 'unknown') return here;
    const inWorkers = await this.askWorkers(order);
    if (inWorkers.kind === 'killed' || inWorkers.kind === 'denied') return inWorkers;
    if (fromPeer || !this.forward) return inWorkers;
    return combineOutcomes([inWorkers, await this.forward(order)]);
  }

  /**
   * The worker a shardgate connection id names (when it is another of this instance); a server
   * thread id names none, so every other worker is asked, in turn.
   */
  private async askWorkers(order: KillOrder): Promise<KillOutcome> {
    const relay = this.relay;
    if (!relay) return UNKNOWN;
    const owner = ConnectionIds.workerOf(order.id);
    const others = Array.from({ length: this.ids.workerCount }, (_, i) => i).filter(
      (i) => i !== this.ids.worker,
    );
    if (owner !== null)
      return combineOutcomes(
        await Promise.all(others.filter((i) => i === owner).map((w) => relay(w, order))),
      );
    // A server thread id may match a session on several workers (thread ids repeat across
    // servers): one at a time, so one KILL ends at most one session.
    const outcomes: KillOutcome[] = [];
    for (const w of others) {
      const outcome = await relay(w, order);
      if (outcome.kind === 'killed' || outcome.kind === 'denied') return outcome;
      outcomes.push(outcome);
    }
    return combineOutcomes(outcomes);
  }
}
