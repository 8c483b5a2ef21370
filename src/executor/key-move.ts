// The shard-key move, once for both protocols (planned as 'key-move' by
// src/router/planner-key-change.ts). Inside one cross-shard transaction the front end opened:
//   1. the client's UPDATE, as it sent it, on every source shard: the server computes the new
//      rows (every SET column) exactly as it would unsharded;
//   2. on each source that does not own the new value, the rows now carrying it (exactly the
//      rows step 1 changed there: no other row can hold a key its shard does not own) are
//      deleted, every column returned;
//   3. those rows are inserted on the owner.
// A protocol contributes a driver: how to run each step on its servers (SQL dialect, parameters,
// how a server counts the rows an UPDATE changed). Opening, committing and rolling back the
// transaction stay with the front end, which owns its session's transaction state.
import { ShardgateError } from '../errors.js';
import type { StatementEvent, StatementObserver } from '../observability/statement-observer.js';
import type { KeyMovePlan, RouteTarget } from '../router/plan.js';
import type { PlannedStatement } from '../router/router.js';

/** The rows one source deleted (step 2), as the driver needs them for the insert. */
export interface MovedRows {
  count: number;
}

export interface KeyMoveDriver<B, U, M extends MovedRows> {
  /** Step 1 on a source; throws the server's error. */
  update(source: B): Promise<U>;
  /** Rows step 1 changed on a source (on a non-owner every matched row changes its key). */
  changed(result: U): number;
  /** Step 2 on a non-owner source. */
  takeMoved(source: B): Promise<M>;
  /** Step 3 on the owner. */
  putMoved(owner: B, rows: M): Promise<void>;
}

export interface KeyMoveResult<B, U> {
  /** Step 1's answer per source, in the order of `sources`. */
  updates: U[];
  /** The servers that changed: two-phase commit prepares these. */
  written: Set<B>;
}

/** Runs the three steps; the caller rolls the transaction back when this throws. */
export async function moveRows<B, U, M extends MovedRows>(
  plan: KeyMovePlan,
  sources: readonly B[],
  owner: B,
  driver: KeyMoveDriver<B, U, M>,
  shardOf: (b: B) => string,
): Promise<KeyMoveResult<B, U>> {
  // Every source answers before anything else runs (or the transaction is rolled back).
  const settled = await Promise.allSettled(sources.map((b) => driver.update(b)));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const updates = settled.map((s) => (s as PromiseFulfilledResult<U>).value);
  const written = new Set<B>();
  sources.forEach((b, i) => {
    if (driver.changed(updates[i]!) > 0) written.add(b);
  });
  for (const [i, b] of sources.entries()) {
    if (b === owner || !written.has(b)) continue;
    const updated = driver.changed(updates[i]!);
    const moved = await driver.takeMoved(b);
    if (moved.count !== updated)
      throw new ShardgateError('INTERNAL', {
        detail: `moving ${plan.table} rows off ${shardOf(b)}: ${updated} updated but ${moved.count} found with ${plan.column} = ${plan.value}`,
      });
    await driver.putMoved(owner, moved);
    written.add(owner);
  }
  return { updates, written };
}

/**
 * The refusal (0A000 / 1235) of a table where deleting and inserting a row is not the same as
 * updating it; `found` names what the table has (null when nothing stands in the way).
 */
export function unmovableTable(table: string, found: readonly string[]): ShardgateError | null {
  if (found.length === 0) return null;
  return new ShardgateError('FEATURE_NOT_SUPPORTED', {
    detail: `moving ${table} rows to another shard (an UPDATE of its shard key) on a table with ${found.join(', ')}, where a delete and an insert differ from an update (DELETE the rows and INSERT them with the new key in one transaction instead)`,
  });
}

/** What the move needs of a server connection. */
interface MoveServer {
  readonly shard: string;
  readonly serverName: string;
}

/** The primaries of the sources and of the owner, one connection per server (all or none). */
export async function acquireMoveServers<B extends MoveServer>(
  plan: KeyMovePlan,
  bindingFor: (target: RouteTarget) => B | Promise<B>,
  giveBack: (binding: B) => void,
): Promise<Map<string, B>> {
  const targets = [...plan.sources, plan.owner].filter(
    (t, i, all) => all.findIndex((o) => o.server === t.server) === i,
  );
  const settled = await Promise.allSettled(targets.map((t) => bindingFor(t)));
  const out = new Map<string, B>();
  for (const s of settled) if (s.status === 'fulfilled') out.set(s.value.serverName, s.value);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    for (const b of out.values()) giveBack(b);
    throw (failed as PromiseRejectedResult).reason;
  }
  return out;
}

/** One event per server of the move, as for the parts of a multi-shard statement. */
export function reportMove(
  observer: StatementObserver,
  protocol: StatementEvent['protocol'],
  servers: readonly MoveServer[],
  statement: PlannedStatement,
  outcome: StatementEvent['outcome'],
  startedMs: number,
): void {
  const plan = statement.plan as KeyMovePlan;
  const latencySeconds = (performance.now() - startedMs) / 1000;
  servers.forEach((b, part) => {
    observer.onStatement({
      protocol,
      shard: b.shard,
      server: b.serverName,
      role: 'primary',
      kind: statement.facts.kind,
      outcome,
      latencySeconds,
      level: plan.level,
      keys: plan.keys,
      scatter: servers.length > 1,
      tables: statement.facts.tables,
      ...(statement.fingerprint !== undefined ? { fingerprint: statement.fingerprint } : {}),
      part,
    });
  });
}
