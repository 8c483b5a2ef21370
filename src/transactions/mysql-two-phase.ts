// The MariaDB driver of two-phase commit: the decision log and recovery's view of XA RECOVER.
// Participants are client sessions' server connections (src/protocol/mysql/distributed-commit.ts).
//
// MariaDB cannot turn a transaction already begun into an XA transaction, so the shard a
// transaction started on keeps its plain transaction and commits last, with the decision inside
// its own COMMIT (the coordinator's DecisionCarrier); the shards it joined later run XA from
// their first statement. The decision therefore lives on the primary of the shard the transaction
// started on (its home), in shardgate_twopc.decisions; the transaction id names its home:
// `sg2pc_<process>_<n>.<home shard>`, so recovery in any process knows where to look.
import type { MysqlPool } from '../backend/mysql-pool.js';
import type { MysqlServerConnection } from '../backend/mysql-server-connection.js';
import type { MysqlRuntimeServer, MysqlTopology } from '../backend/mysql-topology.js';
import { withConnection } from '../backend/with-connection.js';
import type { CollectedResponse } from '../protocol/mysql/result-collector.js';
import type { Decision, PreparedTransaction, RecoveryLog } from './recovery.js';
import { TopologyRecoveryPort } from './recovery.js';
import { DecisionTaken, GID_PREFIX } from './two-phase.js';

const TABLE = 'shardgate_twopc.decisions';
const CREATE_TABLE = `CREATE DATABASE IF NOT EXISTS shardgate_twopc;
CREATE TABLE IF NOT EXISTS ${TABLE} (
  gid varbinary(64) PRIMARY KEY,
  decision enum('commit', 'abort') NOT NULL,
  participants text NOT NULL,
  decided_at timestamp(3) NOT NULL DEFAULT current_timestamp(3)) ENGINE=InnoDB`;
/** XA transaction ids are at most 64 bytes. */
export const MAX_XA_GID_BYTES = 64;
const ER_DUP_ENTRY = 1062;
const ER_NO_SUCH_TABLE = 1146;
const ER_BAD_DB = 1049;
/** XAER_NOTA: no such XA transaction (already finished). */
export const ER_XAER_NOTA = 1397;

/** The transaction id of a cross-shard transaction begun on `homeShard`. */
export function mysqlGid(base: string, homeShard: string): string {
  return `${base}.${homeShard}`;
}

/** The shard whose primary holds the decision of `gid` (null: not a shardgate id). */
export function homeShardOf(gid: string): string | null {
  return /^sg2pc_[0-9a-f]+_\d+\.([A-Za-z0-9_.-]+)$/.exec(gid)?.[1] ?? null;
}

/** A MySQL string literal (NO_BACKSLASH_ESCAPES or not: ids and shard names hold no backslash). */
export function mysqlText(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export class MysqlStatementError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(`${message} (errno ${errno})`);
  }
}

/** Throws the first statement's error of a (multi-statement) response. */
export function checkMysql(r: CollectedResponse): CollectedResponse {
  if (r.error) throw new MysqlStatementError(r.error.errno, r.error.message);
  return r;
}

/** Runs `fn` on a connection of `pool` (without CLIENT_FOUND_ROWS); a failed one is not reused. */
export function withMysqlPool<T>(
  pool: MysqlPool,
  fn: (conn: MysqlServerConnection) => Promise<T>,
): Promise<T> {
  return withConnection(pool, false, fn);
}

export function commitDecisionSqlMysql(gid: string, servers: readonly string[]): string {
  return `INSERT INTO ${TABLE} (gid, decision, participants) VALUES (${mysqlText(gid)}, 'commit', ${mysqlText(servers.join(','))})`;
}

function cellText(cell: unknown): string {
  return cell === null || cell === undefined ? '' : String(cell);
}

/**
 * The decision log: shardgate_twopc.decisions on the primary of each transaction's home shard,
 * as durable as that shard's data (its binlog, its replicas); see docs/transactions.md.
 */
export class MysqlDecisionLog implements RecoveryLog {
  private readonly created = new Map<string, Promise<void>>();

  constructor(private readonly topology: MysqlTopology) {}

  private primary(shard: string): MysqlRuntimeServer {
    const found = this.topology.shardList().find((s) => s.name === shard);
    if (!found) throw new Error(`shard ${shard} (the decision log's home) is not in the topology`);
    return found.primary;
  }

  private home(gid: string): MysqlRuntimeServer {
    const shard = homeShardOf(gid);
    if (shard === null) throw new Error(`${gid} does not name the shard of its decision`);
    return this.primary(shard);
  }

  /** Creates the table on `shard`'s primary once per process (before a transaction inserts into it). */
  ready(shard: string): Promise<void> {
    let made = this.created.get(shard);
    if (!made) {
      made = withMysqlPool(this.primary(shard).pool, async (c) => {
        checkMysql(await c.query(CREATE_TABLE));
      }).catch((err: unknown) => {
        this.created.delete(shard);
        throw err;
      });
      this.created.set(shard, made);
    }
    return made;
  }

  async decideCommit(gid: string, servers: readonly string[]): Promise<void> {
    const shard = homeShardOf(gid) ?? '';
    await this.ready(shard);
    // The pooled connection may carry a client's autocommit=0: COMMIT makes the decision durable
    // either way (a no-op under autocommit), so recovery never acts on an uncommitted row.
    const r = await withMysqlPool(this.home(gid).pool, (c) =>
      c.query(`${commitDecisionSqlMysql(gid, servers)}; COMMIT`),
    );
    if (r.error?.errno === ER_DUP_ENTRY) throw new DecisionTaken(gid);
    checkMysql(r);
  }

  async resolve(gid: string): Promise<'commit' | 'abort'> {
    await this.ready(homeShardOf(gid) ?? '');
    // An abort that loses to a commit already written changes nothing: the first decision stands.
    // COMMIT: the connection may carry a client's autocommit=0 (see decideCommit).
    const r = checkMysql(
      await withMysqlPool(this.home(gid).pool, (c) =>
        c.query(
          `INSERT IGNORE INTO ${TABLE} (gid, decision, participants) VALUES (${mysqlText(gid)}, 'abort', '');
           SELECT decision FROM ${TABLE} WHERE gid = ${mysqlText(gid)}; COMMIT`,
        ),
      ),
    );
    return cellText(r.results[1]?.rows[0]?.[0]) === 'commit' ? 'commit' : 'abort';
  }

  /** Every home's decisions; a home that cannot be asked is left out (its rows wait for the next pass). */
  async decisions(): Promise<Decision[]> {
    const out: Decision[] = [];
    await Promise.all(
      this.topology.shardList().map(async (shard) => {
        const r = await withMysqlPool(shard.primary.pool, (c) =>
          c.query(
            `SELECT gid, decision, participants, TIMESTAMPDIFF(MICROSECOND, decided_at, NOW(3)) / 1000000 FROM ${TABLE} ORDER BY decided_at LIMIT 10000`,
            { timeoutMs: 5_000 },
          ),
        ).catch(() => null);
        // No table yet: nothing was ever decided there. Any other error (access denied, a server
        // going away) leaves this home out of this pass only, as the comment above promises.
        if (!r || r.error?.errno === ER_NO_SUCH_TABLE || r.error?.errno === ER_BAD_DB) return;
        if (r.error) return;
        for (const row of r.results[0]?.rows ?? []) {
          const servers = cellText(row[2]);
          out.push({
            gid: cellText(row[0]),
            decision: cellText(row[1]) === 'commit' ? 'commit' : 'abort',
            servers: servers ? servers.split(',') : [],
            ageSeconds: Number(cellText(row[3])),
          });
        }
      }),
    );
    return out;
  }

  async forget(gids: readonly string[]): Promise<void> {
    const byHome = new Map<string, string[]>();
    for (const gid of gids) {
      const shard = homeShardOf(gid);
      if (shard !== null) byHome.set(shard, [...(byHome.get(shard) ?? []), gid]);
    }
    for (const [shard, list] of byHome) {
      checkMysql(
        await withMysqlPool(this.primary(shard).pool, (c) =>
          c.query(`DELETE FROM ${TABLE} WHERE gid IN (${list.map(mysqlText).join(', ')})`),
        ),
      );
    }
  }
}

/**
 * Recovery's view of the MariaDB primaries: XA RECOVER lists prepared XA transactions (those
 * whose connection is gone; a connection still holding one finishes it itself). XA RECOVER has
 * no age: the age is the time since this process first saw the transaction prepared, never more
 * than its true age, so transactions.recoveryMinAgeMs still leaves a coordinator its time.
 */
export class MysqlRecoveryPort extends TopologyRecoveryPort<MysqlRuntimeServer, MysqlTopology> {
  private readonly firstSeen = new Map<string, number>();

  async listPrepared(server: string): Promise<PreparedTransaction[]> {
    const r = checkMysql(
      await withMysqlPool(this.server(server).pool, (c) => c.query('XA RECOVER', { timeoutMs: 5_000 })),
    );
    const now = Date.now();
    const seen = new Set<string>();
    const out: PreparedTransaction[] = [];
    for (const row of r.results[0]?.rows ?? []) {
      const gtridLength = Number(cellText(row[1]));
      const data = row[3];
      const raw = Buffer.isBuffer(data) ? data : Buffer.from(cellText(data));
      const gid = raw.subarray(0, gtridLength).toString('utf8');
      if (!gid.startsWith(GID_PREFIX) || Number(cellText(row[2])) !== 0) continue;
      const key = `${server}\0${gid}`;
      seen.add(key);
      const first = this.firstSeen.get(key) ?? now;
      this.firstSeen.set(key, first);
      out.push({ gid, ageSeconds: (now - first) / 1000, owner: '' });
    }
    for (const key of this.firstSeen.keys())
      if (key.startsWith(`${server}\0`) && !seen.has(key)) this.firstSeen.delete(key);
    return out;
  }

  async finish(server: string, prepared: PreparedTransaction, commit: boolean): Promise<void> {
    await withMysqlPool(this.server(server).pool, async (c) => {
      const r = await c.query(`XA ${commit ? 'COMMIT' : 'ROLLBACK'} ${mysqlText(prepared.gid)}`);
      // Already finished (by its coordinator or another recovery): nothing left to do.
      if (r.error?.errno === ER_XAER_NOTA) return;
      checkMysql(r);
    });
  }
}
