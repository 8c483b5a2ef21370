// The MariaDB prober of the probe loop (probe-loop.ts): primaries answer @@gtid_binlog_pos and
// @@read_only, replicas @@gtid_slave_pos and SHOW SLAVE STATUS. A replica whose position covers
// its primary's has no lag; otherwise the lag is Seconds_Behind_Master rounded up to the next
// whole second (MariaDB counts whole seconds, so a replica 0.3 s behind says 0): never
// understated, and unknown (replication stopped, no answer) stays unknown, never zero. A replica
// that is writable (@@read_only off) and replicates from nobody reports it was promoted.
import { positionCovers } from '../router/positions.js';
import { type MysqlServerAddress, MysqlServerConnection } from './mysql-server-connection.js';
import type { Prober, ServerHealth } from './probe-loop.js';

export interface MysqlHealthFigures {
  /** Replicas: SHOW SLAVE STATUS Seconds_Behind_Master (null: replication not running). */
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
    const sql = primary
      ? 'SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.read_only'
      : 'SELECT @@GLOBAL.gtid_slave_pos, @@GLOBAL.read_only; SHOW SLAVE STATUS';
    const r = await conn.query(sql, { timeoutMs });
    if (r.error) throw new Error(r.error.message);
    const row = r.results[0]?.rows[0] ?? [];
    const position = row[0]?.toString() ?? null;
    const readOnly = row[1]?.toString() === '1';
    let sbm: number | null = null;
    let running = true;
    let replicating = false;
    if (!primary) {
      const status = r.results[1];
      const cols = status?.columns ?? [];
      const values = status?.rows[0] ?? [];
      const field = (name: string) => values[cols.findIndex((c) => c.name === name)]?.toString() ?? null;
      const behind = field('Seconds_Behind_Master');
      sbm = behind === null || behind === '' ? null : Number(behind);
      running = field('Slave_SQL_Running') === 'Yes' && values.length > 0;
      replicating = running || field('Slave_IO_Running') === 'Yes';
    }
    return {
      position,
      roleMismatch: primary ? readOnly : !readOnly,
      // Promoted (STOP SLAVE, RESET SLAVE ALL, read_only off), or a rogue primary: never a replica.
      promoted: !readOnly && !replicating ? 'writable, replicating from nobody' : null,
      replicaLag: (primaryPosition, figures) => {
        figures.secondsBehindMaster = running ? sbm : null;
        return replicaLagMs(position, primaryPosition, figures.secondsBehindMaster);
      },
    };
  },
};
