// One view for operators: what any instance's admin API can tell about every live member of the
// control plane. This instance answers for itself; every other member with an admin address is
// asked over HTTP (control/peer-fetch.ts: short timeout, bounded reply), all at once, and a member
// that does not answer, or answers nonsense, is reported unreachable with the reason. The other
// worker processes of this instance (`workers > 1`) are asked the same paths over IPC
// (WorkerPeers, cli/worker-view.ts), so worker 0's view covers every worker. Concurrent reads of
// one path share one round of fetches, and forwarded cancels are rate-limited (peer-load.ts); the
// admin token goes only with the routes that need it.
import type { ControlPlane, MemberInfo } from '../control/control-plane.js';
import { PEER_TIMEOUT_MS, type PeerReply, peerRequest } from '../control/peer-fetch.js';
import type { HotKeyTracker, TableSummary } from '../observability/hot-keys.js';
import { combineOutcomes, type KillOrder, type KillOutcome } from '../protocol/mysql/kill-router.js';
import { SHARDGATE_VERSION } from '../version.js';
import { HttpError } from './http.js';
import { CancelBudget, Coalescer } from './peer-load.js';

/** How long a round of peer answers is shared with the requests that come after it. */
const SHARED_FOR_MS = 1000;
/** Forwarded cancels per second (and burst) of one process; those past it are dropped. */
const CANCELS_PER_SECOND = 20;
const CANCEL_BURST = 50;

/** GET /api/instance: one member about itself. */
export interface InstanceSnapshot {
  id: string;
  uptimeSeconds: number;
  topologyVersion: number;
  /** Since this process started; null when observability is off. */
  traffic: { statements: number; errors: number; clientConnections: number } | null;
}

export type MemberReply<T> =
  | { member: MemberInfo; ok: true; value: T }
  | { member: MemberInfo; ok: false; error: string };

/** The other worker processes of this instance, asked over IPC. */
export interface WorkerPeers {
  /** Their member ids (`<instance>.w<i>`), this worker excluded. */
  ids(): string[];
  /** Asks one worker for an admin path it answers (localViewAnswer in proxy.ts). */
  ask(memberId: string, path: string): Promise<PeerReply>;
}

export interface ClusterViewOptions {
  control: ControlPlane;
  workers?: WorkerPeers | undefined;
  selfId: string;
  /** This instance's id: its other workers (`<id>.w<i>`) are asked over IPC, never over HTTP. */
  instanceId?: string | undefined;
  /** The deployment's admin token (the same on every instance), for peer routes that need it. */
  token: string | undefined;
  timeoutMs?: number;
  /** The clock of the shared answers and the cancel budget (tests). */
  now?: () => number;
}

export class ClusterView {
  private readonly shared: Coalescer<Array<MemberReply<unknown>>>;
  private readonly cancels: CancelBudget;

  constructor(private readonly o: ClusterViewOptions) {
    this.shared = new Coalescer(SHARED_FOR_MS, o.now);
    this.cancels = new CancelBudget(CANCELS_PER_SECOND, CANCEL_BURST, o.now);
  }

  get selfId(): string {
    return this.o.selfId;
  }

  /**
   * Every live member: this one answered by `local`, the others by GET `path` and `parse`
   * (`withToken` for a route that needs the admin token).
   */
  gather<T>(
    path: string,
    local: () => T | Promise<T>,
    parse: (json: unknown) => T | null,
    withToken = false,
  ): Promise<Array<MemberReply<T>>> {
    return this.each(local, path, withToken, (r) => {
      if (!r.ok) return r;
      let json: unknown;
      try {
        json = JSON.parse(r.text);
      } catch {
        return { ok: false, error: 'reply is not JSON' };
      }
      const value = parse(json);
      return value === null ? { ok: false, error: 'unexpected reply' } : { ok: true, value };
    });
  }

  /** Every live member's exposition text (this one's from `local`). */
  metricsTexts(local: () => Promise<string>): Promise<Array<MemberReply<string>>> {
    return this.each(local, '/metrics', false, (r) => (r.ok ? { ok: true, value: r.text } : r));
  }

  /** One round of fetches per path at a time, its answer shared for SHARED_FOR_MS. */
  private each<T>(
    local: () => T | Promise<T>,
    path: string,
    withToken: boolean,
    read: (r: PeerReply) => { ok: true; value: T } | { ok: false; error: string },
  ): Promise<Array<MemberReply<T>>> {
    return this.shared.get(path, () => this.ask(local, path, withToken, read)) as Promise<
      Array<MemberReply<T>>
    >;
  }

  private async ask<T>(
    local: () => T | Promise<T>,
    path: string,
    withToken: boolean,
    read: (r: PeerReply) => { ok: true; value: T } | { ok: false; error: string },
  ): Promise<Array<MemberReply<T>>> {
    let members: MemberInfo[];
    try {
      members = [...(await this.o.control.members())];
    } catch (err) {
      throw new HttpError(
        503,
        `control plane unreachable: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const workers = this.o.workers;
    // The embedded plane lists this process only: the other workers are added by their ids.
    const listed = new Set(members.map((m) => m.id));
    for (const id of workers?.ids() ?? [])
      if (!listed.has(id))
        members.push({ id, admin: null, version: SHARDGATE_VERSION, topologyVersion: 0, startedAt: '' });
    members.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    const workerIds = new Set(workers?.ids() ?? []);
    return Promise.all(
      members.map(async (member): Promise<MemberReply<T>> => {
        if (member.id === this.o.selfId) return { member, ok: true, value: await local() };
        if (workers && workerIds.has(member.id))
          return { member, ...read(await workers.ask(member.id, path)) };
        if (!member.admin)
          return { member, ok: false, error: 'no admin address (a worker of another instance)' };
        return { member, ...read(await peerRequest(member.admin, path, this.peerOptions(withToken))) };
      }),
    );
  }

  /**
   * Hands a cancel this process does not hold to every other member with an admin address; the
   * one holding the session (matching secret key) cancels it, the others ignore it. Nothing
   * answers the client, as with the protocol's own CancelRequest; the members that could not be
   * reached are returned for the log; null when the cancel budget is spent (it is dropped: a
   * CancelRequest needs no login, so a flood of them must not become N-1 times as many POSTs).
   */
  async forwardCancel(
    processId: number,
    secretKey: number,
  ): Promise<Array<{ member: string; error: string }> | null> {
    if (!this.cancels.take()) return null;
    const members = (await this.o.control.members()).filter((m) => m.id !== this.o.selfId && m.admin);
    const replies = await Promise.all(
      members.map((m) =>
        peerRequest(m.admin!, '/api/cluster/cancel', {
          ...this.peerOptions(true),
          method: 'POST',
          body: { processId, secretKey },
        }),
      ),
    );
    // The members that could not take it (the one holding the session may be among them).
    return replies.flatMap((r, i) => (r.ok ? [] : [{ member: members[i]!.id, error: r.error }]));
  }

  /**
   * Asks every other instance (members with an admin address) to KILL a MySQL session: the one
   * holding it checks the user and kills it. Killed or denied wins; a member that did not answer
   * makes the outcome unreached, since it may hold the session. A KILL needs a logged-in client
   * and waits for its answer, so it is not rate-limited like a cancel.
   */
  async forwardKill(order: KillOrder): Promise<KillOutcome> {
    let members: MemberInfo[];
    try {
      members = (await this.o.control.members()).filter((m) => m.admin && !this.sameInstance(m.id));
    } catch (err) {
      return { kind: 'unreached', members: [`the control plane (${(err as Error).message})`] };
    }
    // One instance at a time: connection ids (and server thread ids) repeat across instances,
    // and one KILL must end at most one session.
    const outcomes: KillOutcome[] = [];
    for (const m of members) {
      const r = await peerRequest(m.admin!, '/api/cluster/kill', {
        ...this.peerOptions(true),
        // The member asks its own workers (up to PEER_TIMEOUT_MS) before it answers.
        timeoutMs: 2 * (this.o.timeoutMs ?? PEER_TIMEOUT_MS),
        method: 'POST',
        body: order,
      });
      const outcome: KillOutcome = (r.ok ? parseKillOutcome(r.text) : null) ?? {
        kind: 'unreached',
        members: [m.id],
      };
      if (outcome.kind === 'killed' || outcome.kind === 'denied') return outcome;
      outcomes.push(outcome);
    }
    return combineOutcomes(outcomes);
  }

  private sameInstance(id: string): boolean {
    if (id === this.o.selfId) return true;
    const inst = this.o.instanceId;
    if (inst === undefined) return false;
    // `<inst>.w<n>` only: another instance may be named `<inst>.west`.
    return id === inst || (id.startsWith(`${inst}.w`) && /^\d+$/.test(id.slice(inst.length + 2)));
  }

  /** The token is sent only to routes that need it (an open route is no reason to hand it out). */
  private peerOptions(withToken: boolean) {
    return {
      ...(withToken ? { token: this.o.token } : {}),
      ...(this.o.timeoutMs ? { timeoutMs: this.o.timeoutMs } : {}),
    };
  }
}

/** A member's answer to POST /api/cluster/kill, or null when it is not one. */
function parseKillOutcome(text: string): KillOutcome | null {
  let kind: unknown;
  try {
    kind = (JSON.parse(text) as { outcome?: unknown } | null)?.outcome;
  } catch {
    return null;
  }
  // 'unreached' (one of its workers did not answer) is null too: the member is named unreached.
  if (kind === 'killed' || kind === 'denied' || kind === 'unknown') return { kind };
  return null;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** A peer's /api/instance reply, or null when it is not one. */
export function parseSnapshot(json: unknown): InstanceSnapshot | null {
  const j = json as Partial<InstanceSnapshot> | null;
  if (!j || typeof j !== 'object' || typeof j.id !== 'string') return null;
  if (!isCount(j.uptimeSeconds) || !isCount(j.topologyVersion)) return null;
  const t = j.traffic;
  if (
    t !== null &&
    (typeof t !== 'object' || !isCount(t?.statements) || !isCount(t.errors) || !isCount(t.clientConnections))
  )
    return null;
  return {
    id: j.id,
    uptimeSeconds: j.uptimeSeconds,
    topologyVersion: j.topologyVersion,
    traffic: t
      ? { statements: t.statements, errors: t.errors, clientConnections: t.clientConnections }
      : null,
  };
}

/** A peer's /api/hotkeys/summary reply (its window per shard and table), or null. */
export function parseTableSummaries(json: unknown): TableSummary[] | null {
  const tables = (json as { tables?: unknown } | null)?.tables;
  if (!Array.isArray(tables)) return null;
  const out: TableSummary[] = [];
  for (const t of tables as Array<Partial<TableSummary>>) {
    if (!t || typeof t.shard !== 'string' || typeof t.table !== 'string') return null;
    if (!isCount(t.untrackedMax) || !isCount(t.total) || !Array.isArray(t.entries)) return null;
    const entries: TableSummary['entries'][number][] = [];
    for (const e of t.entries) {
      if (!e || typeof e.key !== 'string' || !isCount(e.count) || !isCount(e.lower) || e.lower > e.count)
        return null;
      entries.push({ key: e.key, count: e.count, lower: e.lower });
    }
    out.push({ shard: t.shard, table: t.table, entries, untrackedMax: t.untrackedMax, total: t.total });
  }
  return out;
}

/** GET /api/hotkeys/summary?limit=N[&shard=S]: this process's windows, each cut to its N hottest values. */
export function hotKeySummary(hotKeys: HotKeyTracker, query: URLSearchParams): { tables: TableSummary[] } {
  const limit = Math.min(1000, Math.max(1, Number(query.get('limit') ?? 100) || 100));
  return { tables: hotKeys.tableSummaries(limit, query.get('shard') ?? undefined) };
}
