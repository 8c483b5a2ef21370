// The client's wait_timeout, kept by shardgate: in transaction pooling an idle client holds no
// server connection, so no server would ever close it (mysql2 test-server-close hung waiting).
// After `SET wait_timeout = N` (seen through session tracking) a client idle for N seconds is
// closed with MySQL 8's ER_CLIENT_INTERACTION_TIMEOUT (4031), as the server closes its own.

/** Longest delay setTimeout keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Slack when a pinned server connection closes while its client is idle: the server counts
 * from its last write, shardgate from forwarding it, so the server's timeout comes a little first.
 */
const serverAheadMs = (limitMs: number) => Math.min(1_000, limitMs);

export class ClientWaitTimeout {
  private timer: NodeJS.Timeout | null = null;
  private idleSince: number | null = null;

  constructor(private readonly expire: () => void) {}

  /** The client's own wait_timeout in ms; null while it has not set one. */
  private static limitMs(vars: ReadonlyMap<string, string>): number | null {
    const seconds = Number(vars.get('wait_timeout'));
    return vars.has('wait_timeout') && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null;
  }

  /** Nothing left to run: the client's idle time starts. */
  arm(vars: ReadonlyMap<string, string>): void {
    this.disarm();
    this.idleSince = Date.now();
    const ms = ClientWaitTimeout.limitMs(vars);
    if (ms === null || ms > MAX_TIMER_MS) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.expire();
    }, ms);
    this.timer.unref();
  }

  /** The client sent a command, or left. */
  disarm(): void {
    this.idleSince = null;
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * A server connection the idle client owned closed: was that the server's wait_timeout (which
   * the client's SET gave that connection too) rather than a failure?
   */
  lapsedOnServer(vars: ReadonlyMap<string, string>): boolean {
    const ms = ClientWaitTimeout.limitMs(vars);
    return ms !== null && this.idleSince !== null && Date.now() - this.idleSince >= ms - serverAheadMs(ms);
  }
}
