// The MariaDB side of compensate mode (src/transactions/compensation-store.ts): the record table
// shardgate_twopc.compensations on the default shard's primary and shardgate_twopc.compensation_marks
// on every shard's primary, each mark written in the transaction of the commit or the compensation
// it marks. Pooled connections may carry a client's autocommit=0: every write here ends with COMMIT.
import type { MysqlRuntimeServer } from '../backend/mysql-topology.js';
import type { CollectedResponse } from '../protocol/mysql/result-collector.js';
import { type CompensationDriver, commitMarkStatement } from './compensation-store.js';
import { checkMysql, mysqlText, withMysqlPool } from './mysql-two-phase.js';

// Next to the two-phase decision log (shardgate_twopc), apart from the application's databases.
const LOG = 'shardgate_twopc.compensations';
const MARKS = 'shardgate_twopc.compensation_marks';
const CREATE_MARKS = `CREATE DATABASE IF NOT EXISTS shardgate_twopc;
CREATE TABLE IF NOT EXISTS ${MARKS} (
  id varchar(100) NOT NULL,
  kind enum('commit', 'compensate') NOT NULL,
  fenced tinyint NOT NULL DEFAULT 0,
  marked_at timestamp(3) NOT NULL DEFAULT current_timestamp(3),
  PRIMARY KEY (id, kind)) ENGINE=InnoDB`;
const ER_NO_SUCH_TABLE = 1146;
const ER_BAD_DB = 1049;
/** Lost connection, lock wait timeout, deadlock, read only, too many connections: try again later. */
const TRANSIENT = new Set([1040, 1053, 1205, 1213, 1290, 2006, 2013]);

function on(server: MysqlRuntimeServer, sql: string): Promise<CollectedResponse> {
  return withMysqlPool(server.pool, (c) => c.query(sql));
}

export const mysqlCompensation: CompensationDriver<MysqlRuntimeServer> = {
  log: LOG,
  marks: MARKS,
  // The log's server holds marks of its own as well.
  createLog: `CREATE DATABASE IF NOT EXISTS shardgate_twopc;
CREATE TABLE IF NOT EXISTS ${LOG} (
  id varchar(100) PRIMARY KEY,
  state varchar(20) NOT NULL,
  participants longtext NOT NULL,
  compensate text NOT NULL DEFAULT '',
  detail text NOT NULL DEFAULT '',
  created_at timestamp(3) NOT NULL DEFAULT current_timestamp(3),
  finished_at timestamp(3) NULL,
  announced_at timestamp(3) NULL) ENGINE=InnoDB;
ALTER TABLE ${LOG} ADD COLUMN IF NOT EXISTS attempts int NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS last_error text NOT NULL DEFAULT '',
  ADD COLUMN IF NOT EXISTS next_attempt_at timestamp(3) NULL; ${CREATE_MARKS}`,
  createMarks: CREATE_MARKS,
  now: 'current_timestamp(3)',
  json: mysqlText,
  text: mysqlText,
  secondsAgo: (seconds) => `NOW(3) - INTERVAL ${Math.floor(seconds)} SECOND`,
  msAhead: (ms) => `NOW(3) + INTERVAL ${Math.max(0, Math.floor(ms)) * 1000} MICROSECOND`,
  ageColumn: 'TIMESTAMPDIFF(MICROSECOND, created_at, NOW(3)) / 1000000',
  retryInColumn: 'COALESCE(GREATEST(TIMESTAMPDIFF(MICROSECOND, NOW(3), next_attempt_at) / 1000000, 0), 0)',
  participantsColumn: 'participants',
  announcedColumn: 'announced_at IS NOT NULL',
  isTrue: (cell) => cell === '1',

  async create(server, sql) {
    checkMysql(await on(server, sql));
  },

  async write(server, sql) {
    const r = checkMysql(await on(server, `${sql}; COMMIT`));
    return Number(r.results[0]?.ok?.affectedRows ?? 0n);
  },

  async sweep(server, sql) {
    await on(server, `${sql}; COMMIT`).catch(() => undefined);
  },

  async select(server, sql) {
    const r = await on(server, sql);
    if (r.error?.errno === ER_NO_SUCH_TABLE || r.error?.errno === ER_BAD_DB) return null;
    return checkMysql(r).results[0]!.rows.map((row) =>
      row.map((cell) => (cell === null ? null : String(cell))),
    );
  },

  async fenceCommit(server, id) {
    // INSERT IGNORE waits for a participant's own mark still in flight, then sees whether it committed.
    const r = checkMysql(
      await on(
        server,
        `INSERT IGNORE INTO ${MARKS} (id, kind, fenced) VALUES (${mysqlText(id)}, 'commit', 1); COMMIT;
         SELECT fenced FROM ${MARKS} WHERE id = ${mysqlText(id)} AND kind = 'commit'`,
      ),
    );
    return String(r.results[2]?.rows[0]?.[0]) === '0';
  },

  compensate: (server, id, sql) =>
    withMysqlPool(server.pool, async (c) => {
      const r = await c.query(sql);
      if (!r.error) return null;
      // MariaDB has no error naming the key: the mark is looked up after the rollback.
      const after = checkMysql(
        await c.query(`ROLLBACK; SELECT 1 FROM ${MARKS} WHERE id = ${mysqlText(id)} AND kind = 'compensate'`),
      );
      return {
        message: `${r.error.message} (errno ${r.error.errno})`,
        already: (after.results[1]?.rows.length ?? 0) > 0,
        transient: TRANSIENT.has(r.error.errno),
      };
    }),
};

/** The statement a participant runs right before its COMMIT (see compensating.ts, step 2). */
export const commitMarkSqlMysql = (id: string): string => commitMarkStatement(mysqlCompensation, id);
