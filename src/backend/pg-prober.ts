// The PostgreSQL prober of the probe loop (probe-loop.ts): primaries answer pg_is_in_recovery()
// and pg_current_wal_lsn(), replicas the replay LSN and the replay timestamp. A replica's lag is
// the bytes between its replay LSN and its primary's last seen one, and in ms the age of its last
// replayed commit (none when caught up). Primaries also report data size, connections, lock
// waits, row estimates, buffer hits and WAL archiving on the slower health interval.
import { parseLsn } from '../router/positions.js';
import { PgServerConnection, type ServerAddress } from './pg-server-connection.js';
import type { Prober, ProbeSample, ServerHealth } from './probe-loop.js';

export interface PgHealthFigures {
  lagBytes: number | null;
  /** Shard stats from the primary, refreshed every healthIntervalMs; null = not known yet. */
  dataBytes: number | null;
  serverConnections: number | null;
  /** Seconds all sessions currently waiting on locks have waited so far. */
  lockWaitSeconds: number | null;
  /** Sum of pg_class.reltuples over user tables (planner estimates: cheap, not exact). */
  rowsEstimate: number | null;
  /** Shared-buffer hits and disk reads of the database since the server's stats reset. */
  blocksHit: number | null;
  blocksRead: number | null;
  /** WAL archiving as pg_stat_archiver shows it; null until read. */
  archiver: ArchiverStatus | null;
}

export type PgServerHealth = ServerHealth<PgHealthFigures>;

export interface ArchiverStatus {
  archiveMode: string;
  archivedCount: number;
  lastArchivedAt: string | null;
  failedCount: number;
  lastFailedAt: string | null;
}

const PRIMARY_PROBE = 'SELECT pg_is_in_recovery()::text, pg_current_wal_lsn()::text';
const REPLICA_PROBE =
  'SELECT pg_is_in_recovery()::text, pg_last_wal_replay_lsn()::text, (extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8::text';
const STATS =
  "SELECT pg_database_size(current_database())::text, count(*)::text, coalesce(sum(extract(epoch FROM clock_timestamp() - state_change)) FILTER (WHERE wait_event_type = 'Lock'), 0)::text, " +
  "(SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'), " +
  '(SELECT blks_hit::text FROM pg_stat_database WHERE datname = current_database()), (SELECT blks_read::text FROM pg_stat_database WHERE datname = current_database()), ' +
  "current_setting('archive_mode'), (SELECT json_build_object('archived', archived_count, 'lastArchivedAt', last_archived_time, 'failed', failed_count, 'lastFailedAt', last_failed_time)::text FROM pg_stat_archiver) " +
  'FROM pg_stat_activity WHERE datname = current_database()';

export const pgProber: Prober<PgServerConnection, ServerAddress, PgHealthFigures> = {
  protocol: 'postgres',

  initial: (role) => ({
    lagBytes: role === 'primary' ? 0 : null,
    dataBytes: null,
    serverConnections: null,
    lockWaitSeconds: null,
    rowsEstimate: null,
    blocksHit: null,
    blocksRead: null,
    archiver: null,
  }),

  connect: (address, timeoutMs) => PgServerConnection.connect(address, timeoutMs),
  isClosed: (conn) => conn.closed,
  destroy: (conn) => conn.destroy(),

  async sample(conn, role, timeoutMs): Promise<ProbeSample<PgHealthFigures>> {
    const result = await conn.exec(role === 'primary' ? PRIMARY_PROBE : REPLICA_PROBE, timeoutMs);
    const row = result.rows[0] ?? [];
    const inRecovery = row[0] === 'true';
    const lsn = row[1] ?? null;
    const replayAgoMs = row[2] ?? null;
    return {
      position: lsn,
      roleMismatch: inRecovery !== (role === 'replica'),
      promoted: inRecovery ? null : 'not in recovery',
      replicaLag: (primaryPosition, figures) => {
        const lag = replicaLag(lsn, primaryPosition, replayAgoMs);
        figures.lagBytes = lag.bytes;
        return lag.ms;
      },
    };
  },

  async refresh(conn, figures): Promise<void> {
    const r = await conn.exec(STATS, 2_000);
    const row = r.rows[0] ?? [];
    figures.dataBytes = row[0] ? Number(row[0]) : null;
    figures.serverConnections = row[1] ? Number(row[1]) : null;
    figures.lockWaitSeconds = row[2] ? Number(row[2]) : null;
    figures.rowsEstimate = row[3] ? Number(row[3]) : null;
    figures.blocksHit = row[4] ? Number(row[4]) : null;
    figures.blocksRead = row[5] ? Number(row[5]) : null;
    figures.archiver = row[6] && row[7] ? archiverStatus(row[6], row[7]) : null;
  },
};

/**
 * A replica's lag from its replay LSN, its primary's last LSN and the age of its last replayed
 * commit (ms, as text): caught up with the primary's last known position is no lag, however old
 * the last commit; either LSN unknown is unknown lag.
 */
export function replicaLag(
  replayLsn: string | null,
  primaryLsn: string | null,
  replayAgoMs: string | null,
): { ms: number | null; bytes: number | null } {
  const replay = parseLsn(replayLsn);
  const primary = parseLsn(primaryLsn);
  if (replay === null || primary === null) return { ms: null, bytes: null };
  const behind = primary - replay;
  const ago = replayAgoMs === null ? null : Number(replayAgoMs);
  return {
    bytes: behind > 0n ? Number(behind) : 0,
    ms: behind <= 0n ? 0 : ago === null || Number.isNaN(ago) ? null : Math.max(0, ago),
  };
}

function archiverStatus(mode: string, json: string): ArchiverStatus {
  const a = JSON.parse(json) as {
    archived: number;
    lastArchivedAt: string | null;
    failed: number;
    lastFailedAt: string | null;
  };
  return {
    archiveMode: mode,
    archivedCount: Number(a.archived),
    lastArchivedAt: a.lastArchivedAt,
    failedCount: Number(a.failed),
    lastFailedAt: a.lastFailedAt,
  };
}
