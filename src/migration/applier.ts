// Change capture: streams a logical slot (pgoutput, decoded by pg-logical-replication), applies
// each source transaction to the destinations (change-dispatch.ts, change-writer.ts) and then
// acknowledges the transaction's end LSN to the slot, only once every destination committed it.
// The same class is the forward capture S -> T1, T2 (routing by shard key, skipping changes the
// copy's snapshot already holds: segments.ts) and the reverse capture T -> S for a rollback.
//
// A broken destination or source connection pauses it: it waits for the server to come back
// and streams again from the last acknowledged LSN, so nothing is lost and what is replayed is
// applied idempotently. TRUNCATE and statement errors stop it with status "error: ...".
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { LogicalReplicationService, type Pgoutput } from 'pg-logical-replication';
import { ChangeDispatcher, MARKER_PREFIX, RefusedChange } from './change-dispatch.js';
import { type AppliedTable, DestinationFailure, hasCrossRowConstraints } from './change-writer.js';
import { Destination, untilReachable } from './destination.js';
import { formatLsn, maxLsn, requireLsn } from './lsn.js';
import { clientConfig, describeError, isUnreachable, openClient } from './pg-connect.js';
import { checkReplicationName } from './pg-replication.js';
import { type BackoffSettings, backoffDelay, DEFAULT_BACKOFF, sleep } from './retry.js';
import type { RowRoute } from './row-owner.js';
import { keyCompareFor } from './segments.js';
import { settleVerdict } from './settle-wait.js';
import { loadTableMeta } from './table-meta.js';
import { TextPgoutputPlugin } from './text-pgoutput.js';
import type { MovedTable, ServerAddress, TableCopyState } from './types.js';

export interface ChangeApplierOptions {
  /** The server holding the slot. */
  source: ServerAddress;
  slot: string;
  publication: string;
  destinations: readonly ServerAddress[];
  tables: readonly MovedTable[];
  /** Destination index owning a row (null: none, the row is deleted everywhere). */
  route: RowRoute;
  /** The copy's states, for their segments (forward capture); omit to apply every change. */
  copyStates?: readonly TableCopyState[];
  /** Where to stream from (the last applied LSN of a previous run); the slot's own position if omitted. */
  startLsn?: string;
  protoVersion?: 1 | 2;
  /**
   * Coalesce each batch to one image per key (default true); false applies every change in
   * source order, as tables with cross-row constraints always are (the bench compares both).
   */
  coalesce?: boolean;
  backoff?: BackoffSettings;
  /** "streaming", "paused: ...", "error: ...", "stopped". */
  onStatus?: (status: string) => void;
  /** After each applied and acknowledged source transaction, with its end LSN. */
  onApplied?: (lsn: string) => void;
}

export interface CaptureLag {
  /** Source WAL not yet applied (pg_current_wal_lsn() - appliedLsn). */
  bytes: number;
  /** 0 when nothing is behind, else the time since the capture was last caught up. */
  seconds: number;
  sourceLsn: string;
  appliedLsn: string;
}

interface Stream {
  service: LogicalReplicationService;
  plugin: TextPgoutputPlugin;
  dispatcher: ChangeDispatcher;
  handled: number;
  failure: unknown;
  inflight: Promise<void>;
}

interface MarkerWaiter {
  applied: () => void;
  fail: (err: Error) => void;
}

export class ChangeApplier {
  private applied: bigint;
  private received = 0n;
  private caughtUpAt = Date.now();
  private state = 'idle';
  private stopping = false;
  /** The current session reached the streaming state. */
  private streamed = false;
  private readonly stopController = new AbortController();
  private readonly tables = new Map<string, AppliedTable>();
  private readonly destinations: Destination[];
  private control: pg.Client | null = null;
  private stream: Stream | null = null;
  private loop: Promise<void> | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private readonly markers = new Map<string, MarkerWaiter>();

  constructor(private readonly o: ChangeApplierOptions) {
    checkReplicationName(o.slot, 'slot');
    checkReplicationName(o.publication, 'publication');
    this.applied = o.startLsn ? requireLsn(o.startLsn) : 0n;
    this.destinations = o.destinations.map((d) => new Destination(d, 'migration-apply'));
  }

  /** Last source LSN whose transactions are committed on every destination. */
  get appliedLsn(): string {
    return formatLsn(this.applied);
  }

  /** Furthest source LSN seen on the stream. */
  get receivedLsn(): string {
    return formatLsn(maxLsn(this.received, this.applied));
  }

  get status(): string {
    return this.state;
  }

  /** Reads the moved tables' definitions, then streams in the background until stop(). */
  async start(): Promise<void> {
    if (this.loop) return;
    const control = await this.controlClient();
    const slot = await control.query<{ lsn: string | null }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
      [this.o.slot],
    );
    if (!slot.rows[0])
      throw new Error(`replication slot ${this.o.slot} does not exist on ${this.o.source.name}`);
    const confirmed = slot.rows[0].lsn ? requireLsn(slot.rows[0].lsn) : 0n;
    if (confirmed > this.applied) this.applied = confirmed;
    for (const t of this.o.tables) {
      const meta = await loadTableMeta(control, t.name);
      const state = this.o.copyStates?.find((s) => s.table === t.name);
      this.tables.set(`${meta.schema}.${meta.relname}`, {
        moved: t,
        meta,
        segments: state?.segments ?? [],
        compare: keyCompareFor(meta, () => this.controlClient()),
        ordered: await hasCrossRowConstraints(control, meta),
      });
    }
    this.loop = this.run();
  }

  /** Stops streaming, rolls back what is half applied (it is replayed next time) and closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    await this.stream?.service.stop().catch(() => undefined);
    await this.loop;
    this.loop = null;
    await Promise.all(this.destinations.map((d) => d.close()));
    await this.control?.end().catch(() => undefined);
    this.control = null;
    for (const [token, w] of this.markers) {
      this.markers.delete(token);
      w.fail(new Error('the change capture was stopped before it caught up'));
    }
    this.setStatus('stopped');
  }

  async lag(): Promise<CaptureLag> {
    const c = await this.controlClient();
    let current: bigint;
    try {
      current = requireLsn(
        (await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn,
      );
    } catch (err) {
      this.dropControl();
      throw err;
    }
    const behind = current > this.applied ? current - this.applied : 0n;
    return {
      bytes: Number(behind),
      seconds: behind > 0n ? Math.max(0, (Date.now() - this.caughtUpAt) / 1000) : 0,
      sourceLsn: formatLsn(current),
      appliedLsn: this.appliedLsn,
    };
  }

  /**
   * Writes a transactional marker into the source's WAL and resolves with its LSN once every
   * change committed before it is committed on every destination. Fails after timeoutMs, or
   * with whileProgressing once timeoutMs passed without the applied LSN moving, or once the
   * whole wait would pass whileProgressing.maxMs.
   */
  async catchUp(timeoutMs: number, options: { whileProgressing?: { maxMs: number } } = {}): Promise<string> {
    if (this.stopping || this.state.startsWith('error'))
      throw new Error(`the change capture is ${this.state}`);
    const token = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const applied = new Promise<void>((resolve, reject) => {
      this.markers.set(token, { applied: resolve, fail: reject });
      let seen = this.applied;
      let waited = 0;
      const check = () => {
        waited += timeoutMs;
        const where = `(received ${this.receivedLsn}, applied ${this.appliedLsn}, status ${this.state})`;
        const progressing = options.whileProgressing;
        let message = `the change capture did not catch up within ${timeoutMs} ms ${where}`;
        if (progressing) {
          // A capture that is still applying behind the marker is slow, not stuck: keep waiting,
          // up to the overall limit.
          const verdict = settleVerdict(waited, this.applied !== seen, timeoutMs, progressing.maxMs);
          seen = this.applied;
          if (verdict === 'wait') {
            timer = setTimeout(check, timeoutMs);
            return;
          }
          message =
            verdict === 'stalled'
              ? `the change capture applied nothing for ${timeoutMs} ms after ${waited} ms of catching up ${where}`
              : `the change capture kept applying but did not reach its marker within ${waited} ms ${where}`;
        }
        this.markers.delete(token);
        reject(new Error(message));
      };
      timer = setTimeout(check, timeoutMs);
    });
    applied.catch(() => undefined);
    try {
      const c = await this.controlClient();
      const r = await c
        .query<{ lsn: string }>(`SELECT pg_logical_emit_message(true, $1, $2)::text AS lsn`, [
          MARKER_PREFIX,
          token,
        ])
        .catch((err) => {
          this.dropControl();
          throw err;
        });
      await applied;
      return r.rows[0]!.lsn;
    } finally {
      clearTimeout(timer);
      this.markers.delete(token);
    }
  }

  private setStatus(status: string): void {
    if (status === this.state) return;
    this.state = status;
    this.o.onStatus?.(status);
  }

  private async controlClient(): Promise<pg.Client> {
    this.control ??= await openClient(this.o.source, 'migration-capture');
    return this.control;
  }

  private dropControl(): void {
    const c = this.control;
    this.control = null;
    void c?.end().catch(() => undefined);
  }

  /** Streams, and after a failure waits and streams again from the last acknowledged LSN. */
  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopping) {
      const failure = await this.streamOnce();
      if (this.stopping) break;
      if (this.streamed) attempt = 0; // it got going since the last failure: back off from scratch
      this.streamed = false;
      if (failure === null) {
        // The server ended the stream without an error (e.g. a shutdown): stream again shortly.
        await sleep(backoffDelay(0, this.o.backoff ?? DEFAULT_BACKOFF), this.stopController.signal);
        continue;
      }
      const cause = failure instanceof DestinationFailure ? failure.cause : failure;
      const retryable =
        !(failure instanceof RefusedChange) &&
        (isUnreachable(cause) ||
          ['55006', '40001', '40P01'].includes((cause as { code?: string })?.code ?? ''));
      if (!retryable) {
        this.setStatus(`error: ${describeError(failure)}`);
        for (const [token, w] of this.markers) {
          this.markers.delete(token);
          w.fail(new Error(`the change capture stopped: ${describeError(failure)}`));
        }
        return;
      }
      const where =
        failure instanceof DestinationFailure
          ? `destination ${failure.destination}`
          : `source ${this.o.source.name}`;
      this.setStatus(`paused: ${where} unreachable (${describeError(cause)})`);
      if (failure instanceof DestinationFailure) {
        const dest = this.destinations.find((d) => d.name === failure.destination);
        if (dest)
          await untilReachable(dest, async () => (await dest.connection()).query('SELECT 1'), {
            signal: this.stopController.signal,
            backoff: this.o.backoff,
          }).catch(() => undefined);
      } else {
        await sleep(backoffDelay(attempt++, this.o.backoff ?? DEFAULT_BACKOFF), this.stopController.signal);
      }
    }
  }

  /** One streaming session; resolves with the failure that ended it (null: ended cleanly). */
  private async streamOnce(): Promise<unknown> {
    const service = new LogicalReplicationService(clientConfig(this.o.source, 'migration-capture'), {
      acknowledge: { auto: false, timeoutSeconds: 0 },
      flowControl: { enabled: true },
    });
    const plugin = new TextPgoutputPlugin({
      protoVersion: this.o.protoVersion ?? 1,
      publicationNames: [this.o.publication],
      messages: true,
    });
    const stream: Stream = {
      service,
      plugin,
      dispatcher: new ChangeDispatcher(
        this.tables,
        this.destinations,
        this.o.route,
        {
          committed: (endLsn, markers) => this.onCommitted(stream, endLsn, markers),
          marker: (token) => this.markers.get(token)?.applied(),
          // The message being handled counts as not yet handled.
          moreQueued: () => stream.plugin.parsed > stream.handled + 1,
        },
        { coalesce: this.o.coalesce },
      ),
      handled: 0,
      failure: null,
      inflight: Promise.resolve(),
    };
    this.stream = stream;
    const fail = (err: unknown) => {
      stream.failure ??= err;
      void service.stop().catch(() => undefined);
    };
    service.on('error', fail);
    service.on('data', (_lsn: string, message: Pgoutput.Message) => {
      const work = this.onMessage(stream, message).catch(fail);
      stream.inflight = work;
      return work;
    });
    service.on('heartbeat', (lsn: string, _ts: number, shouldRespond: boolean) =>
      this.onKeepalive(stream, lsn, shouldRespond),
    );
    service.on('start', () => {
      this.streamed = true;
      if (!this.stopping) this.setStatus('streaming');
    });
    // The walsender drops a receiver that stays silent for wal_sender_timeout; a long source
    // transaction pauses the socket (flow control), so report the applied position regularly.
    this.statusTimer = setInterval(() => this.acknowledge(stream), 2_000);
    try {
      await service.subscribe(plugin, this.o.slot, formatLsn(this.applied));
    } catch (err) {
      stream.failure ??= err;
    } finally {
      if (this.statusTimer) clearInterval(this.statusTimer);
      this.statusTimer = null;
      await service.stop().catch(() => undefined);
      await stream.inflight.catch(() => undefined);
      await stream.dispatcher.abort();
      service.removeAllListeners();
      service.on('error', () => undefined);
      this.stream = null;
    }
    return this.stopping ? null : stream.failure;
  }

  private acknowledge(stream: Stream): void {
    if (this.applied === 0n || stream.service.isStop()) return;
    // The library reports lsn + 1 as flushed; the slot must be told exactly the applied end LSN
    // (one byte more could skip a transaction whose commit record starts right there).
    void stream.service.acknowledge(formatLsn(this.applied - 1n)).catch(() => undefined);
  }

  private onKeepalive(stream: Stream, lsn: string, shouldRespond: boolean): void {
    const position = requireLsn(lsn);
    if (position > this.received) this.received = position;
    const idle =
      !stream.dispatcher.inTransaction && stream.handled === stream.plugin.parsed && stream.failure === null;
    if (idle) {
      // Everything the walsender decoded up to here is applied: no transaction of ours commits
      // before this position any more, so the slot may move on.
      if (position > this.applied) {
        this.applied = position;
        this.o.onApplied?.(this.appliedLsn);
      }
      this.caughtUpAt = Date.now();
      this.acknowledge(stream);
    } else if (shouldRespond) this.acknowledge(stream);
  }

  private async onMessage(stream: Stream, message: Pgoutput.Message): Promise<void> {
    try {
      if (stream.failure !== null || this.stopping) return;
      await stream.dispatcher.handle(message);
      // Nothing more waiting: a group of committed transactions must not stay open.
      if (stream.plugin.parsed <= stream.handled + 1) await stream.dispatcher.flush();
    } finally {
      stream.handled++;
    }
  }

  private onCommitted(stream: Stream, endLsn: bigint | null, markers: readonly string[]): void {
    if (endLsn !== null) this.applied = maxLsn(this.applied, endLsn);
    if (this.applied > this.received) this.received = this.applied;
    if (stream.handled + 1 === stream.plugin.parsed) this.caughtUpAt = Date.now();
    this.acknowledge(stream);
    this.o.onApplied?.(this.appliedLsn);
    for (const token of markers) this.markers.get(token)?.applied();
  }
}
