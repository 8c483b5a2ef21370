// One view for operators: what any instance's admin API can tell about every live member of the
// control plane. This instance answers for itself; every other member with an admin address is
// asked over HTTP (control/peer-fetch.ts: short timeout, bounded reply), all at once, and a member
// that does not answer, or answers nonsense, is reported unreachable with the reason.
import type { ControlPlane, MemberInfo } from '../control/control-plane.js';
import { peerJson, peerRequest } from '../control/peer-fetch.js';
import type { TableSummary } from '../observability/hot-keys.js';

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

export interface ClusterViewOptions {
  control: ControlPlane;
  selfId: string;
  /** The deployment's admin token (the same on every instance), for peer routes that need it. */
  token: string | undefined;
  timeoutMs?: number;
}

export class ClusterView {
  constructor(private readonly o: ClusterViewOptions) {}

  get selfId(): string {
    return this.o.selfId;
  }

  /** Every live member: this one answered by `local`, the others by GET `path` and `parse`. */
  gather<T>(
    path: string,
    local: () => T | Promise<T>,
    parse: (json: unknown) => T | null,
  ): Promise<Array<MemberReply<T>>> {
    return this.each(local, async (admin) => {
      const r = await peerJson(admin, path, this.peerOptions());
      if (!r.ok) return r;
      const value = parse(r.json);
      return value === null ? { ok: false, error: 'unexpected reply' } : { ok: true, value };
    });
  }

  /** Every live member's exposition text (this one's from `local`). */
  metricsTexts(local: () => Promise<string>): Promise<Array<MemberReply<string>>> {
    return this.each(local, async (admin) => {
      const r = await peerRequest(admin, '/metrics', this.peerOptions());
      return r.ok ? { ok: true, value: r.text } : r;
    });
  }

  private async each<T>(
    local: () => T | Promise<T>,
    remote: (admin: string) => Promise<{ ok: true; value: T } | { ok: false; error: string }>,
  ): Promise<Array<MemberReply<T>>> {
    const members = await this.o.control.members();
    return Promise.all(
      members.map(async (member): Promise<MemberReply<T>> => {
        if (member.id === this.o.selfId) return { member, ok: true, value: await local() };
        if (!member.admin) return { member, ok: false, error: 'no admin address (a worker past the first)' };
        return { member, ...(await remote(member.admin)) };
      }),
    );
  }

  /**
   * Hands a cancel this process does not hold to every other member with an admin address; the
   * one holding the session (matching secret key) cancels it, the others ignore it. Fire and
   * forget, like the protocol's own CancelRequest.
   */
  async forwardCancel(processId: number, secretKey: number): Promise<void> {
    const members = await this.o.control.members();
    await Promise.all(
      members
        .filter((m) => m.id !== this.o.selfId && m.admin)
        .map((m) =>
          peerRequest(m.admin!, '/api/cluster/cancel', {
            ...this.peerOptions(),
            method: 'POST',
            body: { processId, secretKey },
          }),
        ),
    );
  }

  private peerOptions() {
    return { token: this.o.token, ...(this.o.timeoutMs ? { timeoutMs: this.o.timeoutMs } : {}) };
  }
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
