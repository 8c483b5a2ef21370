// A PostgreSQL endpoint a benchmark client connects to: the server itself or a proxy in front.
export interface PgEndpoint {
  host: string;
  port: number;
  user: string;
  database: string;
}

export interface PgTarget extends PgEndpoint {
  /** direct | shardgate | pgbouncer | pgpool */
  name: string;
  /** Version string for the report, when known. */
  version?: string;
  /** pgbench query modes this target cannot run, with the reason (e.g. prepared on old PgBouncer). */
  unsupportedModes: Record<string, string>;
  /** The target's own process (a proxy), whose CPU per transaction is reported; none for direct. */
  pid?: number;
  stop(): Promise<void>;
}

/** Why a target is not part of a run (not installed, failed to start); reported, not fatal. */
export interface SkippedTarget {
  name: string;
  note: string;
}
