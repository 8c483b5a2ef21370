// Shunning, shared by both protocols' lag monitors: a server that fails a connection (pool or
// probe) or dies mid-query leaves rotation at once, not at the next poll; its probes then back off
// while they fail, and it returns after routing.shunRecoveryProbes good probes in a row.
import type { ShardgateConfig } from '../config/schema.js';
import type { ServerView } from '../router/inputs.js';

/** The shunning part of a server's health, as /api/shards, metrics and alerts show it. */
export interface ShunHealth {
  healthy: boolean;
  /** Out of rotation since a connection to it failed, until enough probes succeed. */
  shunned: boolean;
  shunReason: string | null;
  /** Epoch ms of the current shun (null when not shunned). */
  shunnedAt: number | null;
  /** Times this server was shunned since start. */
  shunsTotal: number;
}

export function unshunned(): Omit<ShunHealth, 'healthy'> {
  return { shunned: false, shunReason: null, shunnedAt: null, shunsTotal: 0 };
}

/** A server's shunning state for the admin API; a server not probed yet shows as never shunned. */
export function shunState(h: Omit<ShunHealth, 'healthy'> | undefined): Omit<ShunHealth, 'healthy'> {
  return {
    shunned: h?.shunned ?? false,
    shunReason: h?.shunReason ?? null,
    shunnedAt: h?.shunnedAt ?? null,
    shunsTotal: h?.shunsTotal ?? 0,
  };
}

/** What a pool tells its topology (see pool.ts, mysql-pool.ts). */
export interface ServerEvents {
  /** A connection to the server failed or was closed by it. */
  failed(reason: string): void;
  /** The server is out of rotation (a replica's read should go elsewhere rather than wait). */
  shunned(): boolean;
}

export class Shunning {
  private recoveredProbes = 0;
  /** The delay before the next probe while shunned. */
  backoffMs = 0;

  constructor(
    private readonly health: ShunHealth,
    private readonly view: ServerView,
    private readonly config: () => ShardgateConfig,
    private readonly notify: (shunned: boolean, reason: string | null) => void,
  ) {}

  /** Out of rotation now; false when it already was. */
  shun(reason: string): boolean {
    const h = this.health;
    if (h.shunned) return false;
    h.shunned = true;
    h.shunReason = reason;
    h.shunnedAt = Date.now();
    h.shunsTotal++;
    h.healthy = false;
    this.view.healthy = false;
    this.recoveredProbes = 0;
    this.backoffMs = this.config().routing.lagPollIntervalMs;
    this.notify(true, reason);
    return true;
  }

  /** Out of rotation, and kept out while the reason lasts (good probes do not count). */
  fence(reason: string): void {
    this.shun(reason);
    this.recoveredProbes = 0;
    this.health.shunReason = reason;
    this.health.healthy = false;
    this.view.healthy = false;
  }

  /** The server answered a probe: true when it may serve (not shunned, or enough good probes since). */
  recovered(): boolean {
    const h = this.health;
    if (!h.shunned) return true;
    const routing = this.config().routing;
    this.backoffMs = routing.lagPollIntervalMs;
    if (++this.recoveredProbes < routing.shunRecoveryProbes) return false;
    h.shunned = false;
    h.shunReason = null;
    h.shunnedAt = null;
    this.notify(false, null);
    return true;
  }

  /** A probe failed: shunned now, or (already shunned) the next probe backs off. */
  probeFailed(message: string): void {
    if (!this.health.shunned) {
      this.shun(message);
      return;
    }
    this.recoveredProbes = 0;
    this.backoffMs = Math.min(this.backoffMs * 2, this.config().routing.shunMaxBackoffMs);
  }

  /** The delay before the next regular probe. */
  nextProbeMs(): number {
    return this.health.shunned ? this.backoffMs : this.config().routing.lagPollIntervalMs;
  }
}
