// A statement is stopped out of band: PostgreSQL's CancelRequest and MySQL's KILL QUERY travel on
// a connection of their own and reach the server some time later. Both servers drop one that
// finds the connection idle, but one that arrives late stops whatever runs then: the next
// statement, this client's or (back in the pool) another's. So while a stop is on its way,
// nothing more is written on the connection; what is written meanwhile waits here, in order, and
// leaves once the server has the signal. A stop asked for while writes wait is for them: it
// starts only after they have left (sent now it would find the connection idle and be dropped).
export class StopSignalHold {
  private pending: Promise<void> | null = null;
  private held: Buffer[] = [];

  /** `write` puts bytes on the wire; `written` stamps the connection's last write. */
  constructor(
    private readonly write: (bytes: Buffer | Uint8Array) => void,
    private readonly written: () => void,
  ) {}

  /** A stop on its way: settles once the server has the signal and held writes have left. */
  get inFlight(): Promise<void> | null {
    return this.pending;
  }

  /** True while a stop is on its way: writes go to `hold` instead of the wire. */
  get holding(): boolean {
    return this.pending !== null;
  }

  /** Keeps bytes until the stop on its way is delivered (the caller checked `holding`). */
  hold(bytes: Buffer | Uint8Array): void {
    this.held.push(bytes as Buffer);
  }

  /** Starts a stop (`start` sends it and settles once it is delivered, never rejecting). */
  stop(start: () => Promise<void>): void {
    const previous = this.pending;
    const sent: Promise<unknown> =
      previous === null
        ? start()
        : this.held.length > 0
          ? previous.then(() => {
              this.flush();
              return start();
            })
          : Promise.all([previous, start()]);
    // Settles either way and never rejects (flush catches): a stop that failed must not leave the
    // connection held for good, and its waiters (releases, paused clients) need no catch.
    const settle = () => {
      if (this.pending !== pending) return;
      this.pending = null;
      this.flush();
    };
    const pending: Promise<void> = sent.then(settle, settle);
    this.pending = pending;
  }

  private flush(): void {
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    this.written();
    for (const bytes of held) {
      try {
        this.write(bytes);
      } catch {
        // The socket is gone: its close reaches the connection's owner, which drops it.
        return;
      }
    }
  }
}
