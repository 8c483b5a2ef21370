// pool.idleTransactionTimeoutMs for both front ends (PgBouncer's idle_transaction_timeout): a
// session that holds a server connection inside a transaction and sends nothing for this long is
// closed, which gives the connection back rolled back. Armed when a session goes quiet in that
// state, disarmed by the next thing the client sends.

export class IdleTransactionTimer {
  private timer: NodeJS.Timeout | null = null;

  /** `timeoutMs` is read at each arming (a config reload applies to the next wait). */
  constructor(
    private readonly timeoutMs: () => number,
    private readonly expire: (ms: number) => void,
  ) {}

  /** The session went quiet; `idleInTransaction`: it holds a server connection in a transaction. */
  arm(idleInTransaction: boolean): void {
    const ms = this.timeoutMs();
    if (ms === 0 || !idleInTransaction || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.expire(ms);
    }, ms);
    this.timer.unref();
  }

  /** The client sent something (or left). */
  disarm(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
  }
}
