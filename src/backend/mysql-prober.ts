// The MariaDB prober of the probe loop (probe-loop.ts): primaries answer @@gtid_binlog_pos and
// @@read_only, replicas @@gtid_slave_pos and their replication status (SHOW REPLICA STATUS, or
// SHOW SLAVE STATUS on servers too old for it: mysql-replica-status.ts decides). A replica whose position covers
// its primary's has no lag; otherwise the lag is Seconds_Behind_Master rounded up to the next
// whole second (MariaDB counts whole seconds, so a replica 0.3 s behind says 0): never
// understated, and unknown (replication stopped, no answer) stays unknown, never zero. A replica
// that is writable (@@read_only off) and replicates from nobody reports it was promoted.
import { positionCovers } from '../router/positions.js';
import { askReplicaStatus, replicaStatusFacts, replicaStatusStatements } from './mysql-replica-status.js';
import { type MysqlServerAddress, MysqlServerConnection } from './mysql-server-connection.js';
import type { Prober, ServerHealth } from './probe-loop.js';

export interface MysqlHealthFigures {
  /** Replicas: the status's Seconds_Behind_Master / _Source (null: replication not running). */
  secondsBehindMaster: number | null;
}

export type MysqlServerHealth = ServerHealth<MysqlHealthFigures>;

/** Lag in ms from a replica's and its primary's positions and Seconds_Behind_Master. */
export function replicaLagMs(
  replicaPosition: string | null,
  primaryPosition: string | null,
  secondsBehindMaster: number | null,
): number | null {
  if (
    replicaPosition !== null &&
    primaryPosition !== null &&
    positionCovers(replicaPosition, primaryPosition)
  )
    return 0;
  if (secondsBehindMaster === null || !Number.isFinite(secondsBehindMaster)) return null;
  return (Math.max(0, secondsBehindMaster) + 1) * 1000 - 1;
}

export const mysqlProber: Prober<MysqlServerConnection, MysqlServerAddress, MysqlHealthFigures> = {
  protocol: 'mysql',
  initial: () => ({ secondsBehindMaster: null }),
  connect: (address, timeoutMs) => MysqlServerConnection.connect(address, { foundRows: false, timeoutMs }),
  isClosed: (conn) => conn.closed,
  destroy: (conn) => conn.destroy(),

  async sample(conn, role, timeoutMs) {
    const primary = role === 'primary';
    if (primary) {
      const r = await conn.query('SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.read_only', { timeoutMs });
      if (r.error) throw new Error(r.error.message);
      const row = r.results[0]?.rows[0] ?? [];
      return sampled(row[0]?.toString() ?? null, row[1]?.toString() === '1', true, null, false);
    }
    // The statement that worked is kept per connection: an old server is asked once, not every probe.
    const { answer: r, statement } = await askReplicaStatus(
      statusStatement.has(conn) ? [statusStatement.get(conn)!] : replicaStatusStatements(conn.serverVersion),
      async (sql) => {
        const r = await conn.query(`SELECT @@GLOBAL.gtid_slave_pos, @@GLOBAL.read_only; ${sql}`, {
          timeoutMs,
        });
        if (r.error) throw Object.assign(new Error(r.error.message), { errno: r.error.errno });
        return r;
      },
    );
    statusStatement.set(conn, statement);
    const row = r.results[0]?.rows[0] ?? [];
    const status = r.results[1];
    const values = status?.rows[0];
    const cols = status?.columns ?? [];
    const facts = values
      ? replicaStatusFacts(Object.fromEntries(cols.map((c, i) => [c.name, values[i]?.toString() ?? null])))
      : null;
    const running = facts?.sqlRunning === 'Yes';
    const replicating = running || facts?.ioRunning === 'Yes';
    return sampled(
      row[0]?.toString() ?? null,
      row[1]?.toString() === '1',
      false,
      running ? facts!.secondsBehind : null,
      replicating,
    );
  },
};

/** Each probe connection's replication-status statement, once one has worked on it. */
const statusStatement = new WeakMap<MysqlServerConnection, string>();

/** One probe's findings as the probe loop wants them. */
function sampled(
  position: string | null,
  readOnly: boolean,
  primary: boolean,
  sbm: number | null,
  replicating: boolean,
) {
  return {
    position,
    roleMismatch: primary ? readOnly : !readOnly,
    // Promoted (STOP SLAVE, RESET SLAVE ALL, read_only off), or a rogue primary: never a replica.
    promoted: !readOnly && !replicating ? 'writable, replicating from nobody' : null,
    replicaLag: (primaryPosition: string | null, figures: MysqlHealthFigures) => {
      figures.secondsBehindMaster = sbm;
      return replicaLagMs(position, primaryPosition, figures.secondsBehindMaster);
    },
  };
}
