// The one call the data path makes per statement into observability. Implementations must be
// cheap (no allocation-heavy work, no I/O): they run on the hot path.
import type { ConsistencyLevel } from '../config/schema.js';

export interface StatementEvent {
  protocol: 'postgres' | 'mysql';
  shard: string;
  server: string;
  role: 'primary' | 'replica';
  /** StatementKind of the (first) statement. */
  kind: string;
  outcome: 'ok' | 'error';
  latencySeconds: number;
  level: ConsistencyLevel | null;
  /** Shard-key values the statement addressed (hot keys). */
  keys: ReadonlyArray<{ shard: string; table: string; value: string }>;
  /** Part of a multi-shard statement. */
  scatter: boolean;
  /** Tables touched (for routing advice). */
  tables: readonly string[];
  /** The statement's fingerprint (per-statement statistics); absent: not counted there. */
  fingerprint?: string;
  /** Rows returned or affected, when the response said. */
  rows?: number | null;
  /** Index of this target among a multi-shard statement's targets. */
  part?: number;
}

export interface StatementObserver {
  onStatement(event: StatementEvent): void;
  /** A client connection opened or closed (connection gauges). */
  onClientCount?(protocol: 'postgres' | 'mysql', delta: 1 | -1): void;
  /** A client received a 40001 error (serialization failure, deadlock, cutover abort) from `shard`. */
  onConflict?(protocol: 'postgres' | 'mysql', shard: string): void;
}

/** Fans one event out to several observers. */
export class ObserverList implements StatementObserver {
  private observers: StatementObserver[] = [];

  add(observer: StatementObserver): void {
    this.observers.push(observer);
  }

  onStatement(event: StatementEvent): void {
    for (const o of this.observers) o.onStatement(event);
  }

  onClientCount(protocol: 'postgres' | 'mysql', delta: 1 | -1): void {
    for (const o of this.observers) o.onClientCount?.(protocol, delta);
  }

  onConflict(protocol: 'postgres' | 'mysql', shard: string): void {
    for (const o of this.observers) o.onConflict?.(protocol, shard);
  }
}

/** What an event needs of a planned statement (the router's PlannedStatement). */
export interface ObservedStatement {
  facts: { kind: string; tables: readonly string[] };
  plan: { level: ConsistencyLevel | null; keys: StatementEvent['keys'] };
  fingerprint?: string;
}

/** The event of part `part` of a multi-shard statement, run on `target` (both front ends). */
export function scatterPartEvent(
  protocol: StatementEvent['protocol'],
  statement: ObservedStatement,
  target: { shard: string; server: string; role: 'primary' | 'replica' },
  outcome: StatementEvent['outcome'],
  latencySeconds: number,
  part: number,
): StatementEvent {
  return {
    protocol,
    shard: target.shard,
    server: target.server,
    role: target.role,
    kind: statement.facts.kind,
    outcome,
    latencySeconds,
    level: statement.plan.level,
    keys: statement.plan.keys,
    scatter: true,
    tables: statement.facts.tables,
    fingerprint: statement.fingerprint,
    part,
  };
}
