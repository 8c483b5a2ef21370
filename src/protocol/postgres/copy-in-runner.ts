// COPY table FROM STDIN into a table on several shards (CopyInPlan): every target primary opens a
// transaction and a COPY of its own; the client's rows are read as they stream in
// (src/executor/copy-row-splitter.ts) and sent on to their shard (a reference table's to every
// shard) in batches of at most COPY_BATCH_BYTES, so memory stays bounded whatever the input size.
// At the end the shards commit together: two-phase commit when two or more received rows
// (docs/transactions.md), a plain COMMIT when one did. Any error (bad input, a row without its
// shard key, a server's refusal, CopyFail) rolls back every shard: nothing is copied. Only with
// cross-shard transactions off (transactions.crossShard: refuse) can a failed COMMIT leave some
// shards committed, and the error then names them.
import { serialize } from 'pg-protocol';
import type { PgServerConnection, SimpleResult } from '../../backend/pg-server-connection.js';
import { ShardgateError } from '../../errors.js';
import {
  CopyInputError,
  CopyRowSplitter,
  type CopyTextFormat,
  type KeyField,
} from '../../executor/copy-row-splitter.js';
import type { CopyInPlan } from '../../router/plan.js';
import { resolveShard } from '../../router/sharding/resolve.js';
import type { CopyInFacts } from '../../sql/facts.js';
import { sqlText } from '../../transactions/pg-two-phase.js';
import { encodeCommandComplete, encodeErrorResponse, encodeReadyForQuery } from './backend-messages.js';
import { learnCommitPosition, twoPhaseCommit } from './distributed-commit.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';
import type { ServerBinding } from './server-binding.js';
import type { Unit } from './units.js';
import { wholeMessages } from './whole-messages.js';

/** Rows gathered per shard before they go out as one CopyData message. */
const COPY_BATCH_BYTES = 64 * 1024;

/** What the query cycle hands the running COPY while the client streams (QueryCycle.copyInSink). */
export interface CopyInSink {
  data(body: Buffer): void;
  done(): void;
  fail(message: string): void;
}

export async function runCopyIn(cycle: QueryCycle, unit: Unit, statement: PlannedStatement): Promise<void> {
  const plan = statement.plan as CopyInPlan;
  const copy = statement.facts.copyIn!;
  if (!unit.simple)
    throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail:
        'COPY FROM STDIN into a table on several shards in the extended protocol (send it as a simple query)',
    });
  const settled = await Promise.allSettled(plan.targets.map((t) => cycle.bindingFor(t)));
  const bindings = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failedAcquire = settled.find((s) => s.status === 'rejected');
  if (failedAcquire) {
    for (const b of bindings) cycle.afterUnit(b);
    throw (failedAcquire as PromiseRejectedResult).reason;
  }
  let shards: ShardCopy[] = [];
  try {
    const keyIndex = plan.keyColumn === null ? -1 : await keyPosition(bindings[0]!, copy, plan.keyColumn);
    await Promise.all(bindings.map((b) => checked(b.runInternal('BEGIN'))));
    shards = bindings.map((b) => new ShardCopy(b));
    const started = await Promise.all(shards.map((s) => s.start(statement.sql)));
    const refused = started.find((r) => r !== null);
    if (refused) {
      await Promise.all(shards.map((s) => (s.copying ? s.finish(false) : null)));
      return await answer(cycle, plan.table, shards, refused, null);
    }
    cycle.session.write(shards[0]!.copyInResponse!);
    const outcome = await streamRows(cycle, plan, copy, keyIndex, shards);
    await Promise.all(shards.map((s) => (s.copying ? s.finish(outcome.error === null) : null)));
    const serverError = shards.find((s) => s.error)?.error ?? null;
    // A reference table's rows went to every shard: the client sent each once.
    const rows = plan.keyColumn ? total(shards) : (shards[0]?.rows ?? 0);
    await answer(cycle, plan.table, shards, outcome.error ?? serverError, rows);
  } finally {
    for (const s of shards) s.detach();
    for (const b of bindings) cycle.afterUnit(b);
  }
}

/** The key column's place in the rows: in the column list, else in the table's own column order. */
async function keyPosition(binding: ServerBinding, copy: CopyInFacts, key: string): Promise<number> {
  const columns =
    copy.columns ??
    (
      await checked(
        binding.runInternal(
          `SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = ${sqlText(qualified(copy))}::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
        ),
      )
    ).rows.map((r) => r[0] ?? '');
  const at = columns.findIndex((c) => c.toLowerCase() === key);
  if (at < 0)
    throw new ShardgateError('COPY_KEY_MISSING', {
      table: copy.table,
      column: key,
      line: 1,
      detail: 'the table has no such column',
    });
  return at;
}

function qualified(copy: CopyInFacts): string {
  const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return copy.schema ? `${ident(copy.schema)}.${ident(copy.table)}` : ident(copy.table);
}

/** A statement of shardgate's own; its error ends the COPY before any row was read. */
async function checked(p: Promise<SimpleResult>): Promise<SimpleResult> {
  const r = await p;
  if (r.error)
    throw new ShardgateError('INTERNAL', { detail: `${r.error.message} (SQLSTATE ${r.error.code})` });
  return r;
}

/** Reads the client's CopyData until CopyDone or CopyFail; the first input error stops the rows. */
function streamRows(
  cycle: QueryCycle,
  plan: CopyInPlan,
  copy: CopyInFacts,
  keyIndex: number,
  shards: ShardCopy[],
): Promise<{ error: ShardgateError | Buffer | null }> {
  const view = cycle.services.topology.view();
  const config = plan.keyColumn ? view.tables[plan.table]! : null;
  const byName = new Map(shards.map((s) => [s.binding.shard, s]));
  const splitter = new CopyRowSplitter(
    textFormat(copy, plan.keyColumn),
    keyIndex,
    cycle.services.config.limits.maxMessageBytes,
  );
  let error: ShardgateError | Buffer | null = null;
  const sink = {
    header: (row: Buffer) => {
      for (const s of shards) s.write(row);
    },
    row: (row: Buffer, key: KeyField, line: number) => {
      if (!config) {
        for (const s of shards) s.write(row);
        return;
      }
      if ('missing' in key)
        throw new ShardgateError('COPY_KEY_MISSING', {
          table: copy.table,
          column: plan.keyColumn!,
          line,
          detail:
            key.missing === 'absent' ? 'the row has too few columns' : `it is ${key.missing.toUpperCase()}`,
        });
      const name = resolveShard(config, key.value, view.shards);
      const target = name === null ? undefined : byName.get(name);
      if (!target)
        throw new ShardgateError('COPY_BAD_INPUT', {
          table: copy.table,
          detail: `row ${line}: shard-key value "${key.value.slice(0, 40)}" maps to no shard (method ${config.method ?? 'hash'}, key type ${config.keyType ?? 'int'})`,
        });
      target.write(row);
    },
  };
  return new Promise((resolve) => {
    const stop = (why: ShardgateError | Buffer | null) => {
      error ??= why;
      cycle.copyInSink = null;
      resolve({ error });
    };
    const guard = (fn: () => void) => {
      if (error) return;
      try {
        fn();
      } catch (err) {
        error =
          err instanceof CopyInputError
            ? new ShardgateError('COPY_BAD_INPUT', { table: copy.table, detail: err.message })
            : err instanceof ShardgateError
              ? err
              : new ShardgateError('INTERNAL', { detail: (err as Error).message });
      }
      // A shard that refused a row stops the COPY; the client's remaining data is dropped.
      error ??= shards.find((s) => s.error)?.error ?? null;
    };
    const sinkForClient: CopyInSink = {
      data: (body) =>
        guard(() => {
          if (splitter.done) return;
          splitter.push(body, sink);
          for (const s of shards) s.holdClientIfFull(cycle);
        }),
      done: () => {
        guard(() => {
          splitter.end(sink);
          for (const s of shards) s.flush();
        });
        stop(null);
      },
      fail: (message) =>
        stop(
          encodeErrorResponse({
            severity: 'ERROR',
            code: '57014',
            message: `COPY from stdin failed: ${message}`,
          }),
        ),
    };
    cycle.copyInSink = sinkForClient;
    // The client left while the shards' COPYs started: onClientGone found no sink to fail, and
    // no CopyData, CopyDone or CopyFail will come (each shard would stay checked out in COPY).
    if (cycle.clientLeft) sinkForClient.fail('the client went away');
  });
}

export function textFormat(copy: CopyInFacts, key: string | null): CopyTextFormat {
  const byte = (s: string) => Buffer.from(s)[0]!;
  const forceNull =
    copy.forceNull === '*' || (key !== null && copy.forceNull.some((c) => c.toLowerCase() === key));
  return {
    csv: copy.csv,
    delimiter: byte(copy.delimiter),
    quote: byte(copy.quote),
    escape: byte(copy.escape),
    nullText: copy.nullText,
    defaultText: copy.defaultText,
    header: copy.header,
    forceNullKey: copy.csv && forceNull,
  };
}

function total(shards: ShardCopy[]): number {
  return shards.reduce((n, s) => n + s.rows, 0);
}

/** Ends every shard's transaction and answers the client: COPY n, or the error. */
async function answer(
  cycle: QueryCycle,
  table: string,
  shards: ShardCopy[],
  error: ShardgateError | Buffer | null,
  rows: number | null,
): Promise<void> {
  const live = shards.filter((s) => !s.binding.lost);
  let outcome = error;
  if (outcome === null) outcome = await commit(cycle, live, table);
  else await Promise.allSettled(live.map((s) => s.binding.runInternal('ROLLBACK')));
  const out: Buffer[] = [];
  for (const s of shards) out.push(...s.notices);
  if (outcome === null) out.push(encodeCommandComplete(`COPY ${rows ?? 0}`));
  else out.push(outcome instanceof ShardgateError ? encodeErrorResponse(outcome) : outcome);
  out.push(encodeReadyForQuery(cycle.state.txStatus));
  cycle.session.write(Buffer.concat(out));
}

/** Commits what the shards copied: null when committed, else the error for the client. */
async function commit(cycle: QueryCycle, shards: ShardCopy[], table: string): Promise<ShardgateError | null> {
  const writers = shards.filter((s) => s.rows > 0).map((s) => s.binding);
  const others = shards.filter((s) => s.rows === 0).map((s) => s.binding);
  await Promise.allSettled(others.map((b) => b.runInternal('COMMIT')));
  if (
    writers.length < 2 ||
    !cycle.services.twoPhase ||
    cycle.services.config.transactions.crossShard !== 'two_phase'
  )
    return commitEach(cycle, writers, table);
  const outcome = await twoPhaseCommit(cycle, writers);
  if (outcome.kind === 'committed') return null;
  if (outcome.kind === 'aborted') return new ShardgateError('TWO_PHASE_ABORTED', { detail: outcome.detail });
  return new ShardgateError('TWO_PHASE_OUTCOME_UNKNOWN', { gid: outcome.gid, detail: outcome.detail });
}

/** One COMMIT per shard, in turn (one writer, or cross-shard transactions off). */
async function commitEach(
  cycle: QueryCycle,
  writers: ServerBinding[],
  table: string,
): Promise<ShardgateError | null> {
  const committed: string[] = [];
  for (const [i, b] of writers.entries()) {
    const r = await b
      .runInternal('COMMIT')
      .catch((err: Error) => ({ error: { message: err.message, code: '08006' }, tag: null }));
    if (!r.error && r.tag === 'COMMIT') {
      committed.push(b.shard);
      await learnCommitPosition(cycle, b);
      continue;
    }
    const rest = writers.slice(i + 1);
    await Promise.allSettled(rest.map((x) => x.runInternal('ROLLBACK')));
    const detail = r.error
      ? `${r.error.message} (SQLSTATE ${r.error.code})`
      : `the transaction was rolled back (${r.tag})`;
    if (committed.length === 0)
      return new ShardgateError('COPY_BAD_INPUT', {
        table,
        detail: `${b.shard} refused the commit: ${detail}`,
      });
    return new ShardgateError('COPY_PARTLY_APPLIED', {
      table,
      committed: committed.join(', '),
      failed: [b.shard, ...rest.map((x) => x.shard)].join(', '),
      detail,
    });
  }
  return null;
}

/** One shard's COPY: its server connection in COPY IN mode, its batch, and its answer. */
class ShardCopy {
  copyInResponse: Buffer | null = null;
  copying = false;
  /** The server's ErrorResponse (raw), when it refused the COPY or a row. */
  error: Buffer | null = null;
  rows = 0;
  readonly notices: Buffer[] = [];
  private batch = Buffer.allocUnsafe(COPY_BATCH_BYTES);
  private fill = 0;
  private waiter: (() => void) | null = null;
  private readonly conn: PgServerConnection;

  constructor(readonly binding: ServerBinding) {
    this.conn = binding.conn;
  }

  /** Sends the client's COPY statement; resolves with null in COPY IN mode, else the server's error. */
  start(sql: string): Promise<Buffer | null> {
    const conn = this.conn;
    conn.onData = wholeMessages((type, buf, pos, end) => this.receive(type, buf, pos, end));
    conn.onClose = (err) => {
      this.error ??= encodeErrorResponse(
        new ShardgateError('INTERNAL', {
          detail: `${this.binding.serverName} closed the connection during COPY: ${err?.message ?? 'closed'}`,
        }),
      );
      this.copying = false;
      this.wake();
    };
    conn.write(serialize.query(sql));
    return new Promise((resolve) => {
      this.waiter = () => resolve(this.copying ? null : this.error);
    });
  }

  write(row: Buffer): void {
    if (!this.copying) return;
    if (this.fill + row.length > COPY_BATCH_BYTES) this.flush();
    if (row.length > COPY_BATCH_BYTES) {
      this.conn.write(serialize.copyData(row));
      return;
    }
    row.copy(this.batch, this.fill);
    this.fill += row.length;
  }

  flush(): void {
    if (this.fill === 0 || !this.copying) return;
    this.conn.write(serialize.copyData(this.batch.subarray(0, this.fill)));
    // The written bytes may still be queued: the next batch goes into a buffer of its own.
    this.batch = Buffer.allocUnsafe(COPY_BATCH_BYTES);
    this.fill = 0;
  }

  /** A server slower than the client: stop reading the client until its socket drains. */
  holdClientIfFull(cycle: QueryCycle): void {
    if (this.copying) cycle.holdClientUntilDrained(this.conn);
  }

  /** CopyDone (keep) or CopyFail (roll back); resolves at the server's ReadyForQuery. */
  finish(keep: boolean): Promise<void> {
    if (keep) this.flush();
    this.fill = 0;
    this.conn.write(keep ? serialize.copyDone() : serialize.copyFail('another shard of the COPY failed'));
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Gives the connection back to its binding (the COPY is over, or the connection is lost). */
  detach(): void {
    if (this.conn.closed) return;
    this.conn.onData = (chunk) => this.binding.tracker.onData(chunk);
    this.conn.onClose = null;
    this.binding.attach();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** One server message; never ends the reading (the binding takes the connection back after the COPY). */
  private receive(type: number, buf: Buffer, pos: number, end: number): boolean {
    const message = buf.subarray(pos, end);
    switch (type) {
      case 0x47: // CopyInResponse
        this.copyInResponse = Buffer.from(message);
        this.copying = true;
        this.wake();
        break;
      case 0x43: {
        // CommandComplete "COPY n"
        const tag = buf.toString('utf8', pos + 5, end - 1);
        this.rows = Number(tag.split(' ')[1] ?? 0);
        break;
      }
      case 0x45: // ErrorResponse
        this.error ??= Buffer.from(message);
        this.copying = false;
        break;
      case 0x4e: // NoticeResponse
        this.notices.push(Buffer.from(message));
        break;
      case 0x5a: // ReadyForQuery
        this.conn.txStatus = String.fromCharCode(buf[pos + 5]!);
        this.binding.tracker.status = buf[pos + 5]!;
        this.copying = false;
        this.wake();
        break;
      default:
        break;
    }
    return false;
  }
}
