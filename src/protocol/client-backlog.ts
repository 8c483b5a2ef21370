// What a client sent and shardgate has not run yet, for both protocols: run one at a time, in
// order, each only once the client has read the replies before it. Past `maxBytes` queued (a client
// that pipelines and does not read) the client's socket is not read until half has run, so memory
// per session stays bounded. The protocol's part: what an item is, and how it runs.

/** The client side of a session, as the backlog needs it. */
export interface BacklogClient {
  /** The client has unread replies past its socket's high-water mark. */
  readonly needsDrain: boolean;
  onDrained(resume: () => void): void;
  pauseReading(): void;
  resumeReading(): void;
}

/**
 * What the backlog asks of its owner (the query cycle or the command cycle). Three calls rather
 * than one async wrapper: no extra promise per statement on the hot path.
 */
export interface BacklogOwner<T> {
  /** Just before `runQueued`. */
  startingQueued(item: T): void;
  /** Runs one item; the next waits until it settles. */
  runQueued(item: T): Promise<void>;
  /** After `runQueued` settled without throwing. */
  ranQueued(): void;
  /** The client left: nothing more runs. */
  readonly clientLeft: boolean;
  /** The backlog ran dry (or the client left): arm the idle timers. */
  backlogIdle(): void;
}

export class ClientBacklog<T> {
  private readonly items: T[] = [];
  private bytes = 0;
  private readingPaused = false;
  private pumping = false;

  constructor(
    private readonly client: BacklogClient,
    private readonly owner: BacklogOwner<T>,
    private readonly maxBytes: () => number,
    private readonly sizeOf: (item: T) => number,
  ) {}

  /** Items waiting (the one running is not counted). */
  get length(): number {
    return this.items.length;
  }

  /** The next item to run, if any. */
  get next(): T | undefined {
    return this.items[0];
  }

  /** An item is running (or the backlog waits for the client to read). */
  get busy(): boolean {
    return this.pumping;
  }

  /** Counts bytes received before they form an item (PostgreSQL's extended-protocol messages). */
  received(bytes: number): void {
    this.bytes += bytes;
  }

  /** Queues an item whose bytes were counted with `received`. */
  push(item: T): void {
    this.items.push(item);
  }

  /** Counts and queues an item. */
  add(item: T): void {
    this.bytes += this.sizeOf(item);
    this.items.push(item);
  }

  /**
   * Past the limit, stops reading the client ('paused'). 'stuck': past the limit with nothing
   * queued to run (bytes that form no item yet), so pausing would wait forever.
   */
  pauseIfOverLimit(): 'under' | 'paused' | 'stuck' {
    if (this.bytes <= this.maxBytes() || this.readingPaused) return 'under';
    if (this.items.length === 0) return 'stuck';
    this.pauseReading();
    return 'paused';
  }

  /** Runs what is queued, unless that already happens. */
  start(): void {
    if (!this.pumping) void this.pump();
  }

  /** Stops reading the client (also for a server slower than the client: see holdClientUntilDrained). */
  pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.client.pauseReading();
  }

  resumeReading(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    this.client.resumeReading();
  }

  /** The client's socket is not being read. */
  get paused(): boolean {
    return this.readingPaused;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.items.length > 0 && !this.owner.clientLeft) {
        // The next result waits until the client has read the previous ones.
        if (this.client.needsDrain) await new Promise<void>((resolve) => this.client.onDrained(resolve));
        if (this.owner.clientLeft) break;
        const item = this.items.shift()!;
        this.bytes -= this.sizeOf(item);
        if (this.readingPaused && this.bytes <= this.maxBytes() / 2) this.resumeReading();
        this.owner.startingQueued(item);
        await this.owner.runQueued(item);
        this.owner.ranQueued();
      }
    } finally {
      this.pumping = false;
      this.owner.backlogIdle();
    }
  }
}
