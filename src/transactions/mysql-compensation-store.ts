// The MariaDB side of compensate mode (src/transactions/compensating.ts), the twin of
// pg-compensation-store.ts: the record table shardgate_twopc.compensations on the default shard's
// primary and shardgate_twopc.compensation_marks on every shard's primary, each mark written in the
// transaction of the commit or the compensation it marks. Pooled connections may carry a
// client's autocommit=0: every write here ends with COMMIT.
import type { MysqlRuntimeServer, MysqlTopology } from '../backend/mysql-topology.js';
import type { CollectedResponse } from '../protocol/mysql/result-collector.js';
import type { CompensationRecord, CompensationState, CompensationStore } from './compensating.js';
import { checkMysql, mysqlText, withMysqlPool } from './mysql-two-phase.js';
import { serverNamed } from './recovery.js';
import { DefiniteFailure } from './two-phase.js';

// Next to the two-phase decision log (shardgate_twopc), apart from the application's databases.
const LOG = 'shardgate_twopc.compensations';
const MARKS = 'shardgate_twopc.compensation_marks';
const CREATE_LOG = `CREATE DATABASE IF NOT EXISTS shardgate_twopc;
CREATE TABLE IF NOT EXISTS ${LOG} (
  id varchar(100) PRIMARY KEY,
  state varchar(20) NOT NULL,
  participants longtext NOT NULL,
  compensate text NOT NULL DEFAULT '',
  detail text NOT NULL DEFAULT '',
  created_at timestamp(3) NOT NULL DEFAULT current_timestamp(3),
  finished_at timestamp(3) NULL,
  announced_at timestamp(3) NULL) ENGINE=InnoDB`;
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
const SWEEP_EVERY_MS = 10 * 60_000;

/** The statement a participant runs right before its COMMIT (see compensating.ts, step 2). */
export function commitMarkSqlMysql(id: string): string {
  return `INSERT INTO ${MARKS} (id, kind) VALUES (${mysqlText(id)}, 'commit')`;
}

export class MysqlCompensationStore implements CompensationStore {
  private readonly created = new Map<string, Promise<void>>();
  private lastSweep = 0;

  constructor(private readonly topology: MysqlTopology) {}

  private logServer(): MysqlRuntimeServer {
    const name = this.topology.view().defaultShard;
    const shard = this.topology.shardList().find((s) => s.name === name) ?? this.topology.shardList()[0]!;
    return shard.primary;
  }

  private on(server: MysqlRuntimeServer, sql: string): Promise<CollectedResponse> {
    return withMysqlPool(server.pool, (c) => c.query(sql));
  }

  private async onLog(sql: string): Promise<CollectedResponse> {
    return checkMysql(await this.on(this.logServer(), sql));
  }

  async ready(servers: readonly string[]): Promise<void> {
    const log = this.logServer();
    const wanted: Array<[MysqlRuntimeServer, string]> = [
      [log, `${CREATE_LOG}; ${CREATE_MARKS}`],
      ...servers.map((name): [MysqlRuntimeServer, string] => [
        serverNamed(this.topology, name),
        CREATE_MARKS,
      ]),
    ];
    await Promise.all(
      wanted.map(([server, sql]) => {
        const key = `${server.name}\0${sql === CREATE_MARKS ? 'marks' : 'log'}`;
        let made = this.created.get(key);
        if (!made) {
          made = this.on(server, sql).then((r) => void checkMysql(r));
          made.catch(() => this.created.delete(key));
          this.created.set(key, made);
        }
        return made;
      }),
    );
  }

  async open(id: string, participants: CompensationRecord['participants']): Promise<void> {
    await this.onLog(
      `INSERT INTO ${LOG} (id, state, participants) VALUES (${mysqlText(id)}, 'committing', ${mysqlText(JSON.stringify(participants))}); COMMIT`,
    );
  }

  async forget(id: string): Promise<void> {
    await this.onLog(`DELETE FROM ${LOG} WHERE id = ${mysqlText(id)}; COMMIT`);
  }

  async setState(
    id: string,
    state: CompensationState,
    detail: string,
    compensate?: readonly string[],
  ): Promise<void> {
    const final = state !== 'committing' && state !== 'compensating';
    await this.onLog(
      `UPDATE ${LOG} SET state = ${mysqlText(state)}, detail = ${mysqlText(detail)}` +
        (compensate ? `, compensate = ${mysqlText(compensate.join(','))}` : '') +
        (final ? ', finished_at = current_timestamp(3)' : '') +
        ` WHERE id = ${mysqlText(id)}; COMMIT`,
    );
  }

  async fenceCommit(server: string, id: string): Promise<boolean> {
    await this.ready([server]);
    // INSERT IGNORE waits for a participant's own mark still in flight, then sees whether it committed.
    const r = checkMysql(
      await this.on(
        serverNamed(this.topology, server),
        `INSERT IGNORE INTO ${MARKS} (id, kind, fenced) VALUES (${mysqlText(id)}, 'commit', 1); COMMIT;
         SELECT fenced FROM ${MARKS} WHERE id = ${mysqlText(id)} AND kind = 'commit'`,
      ),
    );
    return String(r.results[2]?.rows[0]?.[0]) === '0';
  }

  async apply(server: string, id: string, statements: readonly string[]): Promise<'applied' | 'already'> {
    await this.ready([server]);
    return withMysqlPool(serverNamed(this.topology, server).pool, async (c) => {
      // The mark goes first: a second run stops at its key (or waits for a run in progress).
      const r = await c.query(
        `BEGIN; INSERT INTO ${MARKS} (id, kind) VALUES (${mysqlText(id)}, 'compensate'); ${statements.join('; ')}; COMMIT`,
      );
      if (!r.error) return 'applied';
      const err = `${r.error.message} (errno ${r.error.errno})`;
      const after = checkMysql(
        await c.query(`ROLLBACK; SELECT 1 FROM ${MARKS} WHERE id = ${mysqlText(id)} AND kind = 'compensate'`),
      );
      if ((after.results[1]?.rows.length ?? 0) > 0) return 'already';
      if (TRANSIENT.has(r.error.errno)) throw new Error(err);
      throw new DefiniteFailure(err);
    });
  }

  async claimAnnouncement(id: string): Promise<boolean> {
    const r = await this.onLog(
      `UPDATE ${LOG} SET announced_at = current_timestamp(3) WHERE id = ${mysqlText(id)} AND announced_at IS NULL; COMMIT`,
    );
    return (r.results[0]?.ok?.affectedRows ?? 0n) > 0n;
  }

  async get(id: string): Promise<CompensationRecord | null> {
    return (await this.select(`WHERE id = ${mysqlText(id)}`))[0] ?? null;
  }

  list(limit: number): Promise<CompensationRecord[]> {
    return this.select(`ORDER BY created_at DESC LIMIT ${Math.max(1, Math.floor(limit))}`);
  }

  unfinished(): Promise<CompensationRecord[]> {
    return this.select(
      "WHERE state IN ('committing', 'compensating') OR announced_at IS NULL ORDER BY created_at",
    );
  }

  private async select(tail: string): Promise<CompensationRecord[]> {
    const r = await this.on(
      this.logServer(),
      `SELECT id, state, participants, compensate, detail,
              TIMESTAMPDIFF(MICROSECOND, created_at, NOW(3)) / 1000000, announced_at IS NOT NULL
         FROM ${LOG} ${tail}`,
    );
    // No table yet: no transaction ever ran in compensate mode here.
    if (r.error?.errno === ER_NO_SUCH_TABLE || r.error?.errno === ER_BAD_DB) return [];
    return checkMysql(r).results[0]!.rows.map((row) => {
      const text = (i: number) => (row[i] === null || row[i] === undefined ? '' : String(row[i]));
      return {
        id: text(0),
        state: text(1) as CompensationState,
        participants: JSON.parse(text(2)) as CompensationRecord['participants'],
        compensate: text(3) ? text(3).split(',') : [],
        detail: text(4),
        ageSeconds: Number(text(5)),
        announced: text(6) === '1',
      };
    });
  }

  async sweep(
    olderThanSeconds: number,
    recordsOlderThanSeconds: number,
    open: readonly string[],
  ): Promise<void> {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    const keep = open.length > 0 ? ` AND id NOT IN (${open.map(mysqlText).join(', ')})` : '';
    await this.on(
      this.logServer(),
      `DELETE FROM ${LOG} WHERE state NOT IN ('committing', 'compensating') AND announced_at IS NOT NULL
         AND created_at < NOW(3) - INTERVAL ${Math.floor(recordsOlderThanSeconds)} SECOND; COMMIT`,
    ).catch(() => undefined);
    await Promise.allSettled(
      this.topology
        .shardList()
        .map((s) =>
          this.on(
            s.primary,
            `DELETE FROM ${MARKS} WHERE marked_at < NOW(3) - INTERVAL ${Math.floor(olderThanSeconds)} SECOND${keep}; COMMIT`,
          ),
        ),
    );
  }
}
