// The PostgreSQL driver of two-phase commit: the decision log table on the default shard's
// primary, and recovery's view of pg_prepared_xacts. Participants are client sessions' server
// connections (src/protocol/postgres/distributed-commit.ts).

import type { PgPool } from '../backend/pg-pool.js';
import type { PgServerConnection, SimpleResult } from '../backend/pg-server-connection.js';
import type { RuntimeServer, RuntimeTopology } from '../backend/pg-topology.js';
import { withConnection } from '../backend/with-connection.js';
import type { Decision, PreparedTransaction, RecoveryLog } from './recovery.js';
import { TopologyRecoveryPort } from './recovery.js';
import { DecisionTaken, GID_PREFIX } from './two-phase.js';

const TABLE = 'shardgate.twopc_decisions';
const CREATE_TABLE = `CREATE SCHEMA IF NOT EXISTS shardgate;
CREATE TABLE IF NOT EXISTS ${TABLE} (
  gid text PRIMARY KEY,
  decision text NOT NULL CHECK (decision IN ('commit', 'abort')),
  participants text NOT NULL,
  decided_at timestamptz NOT NULL DEFAULT now())`;

/** Runs `fn` on a pooled connection of `server` as the service identity. */
export function withServer<T>(
  server: RuntimeServer,
  fn: (conn: PgServerConnection) => Promise<T>,
): Promise<T> {
  return withPool(server.pool, fn);
}

/** Runs `fn` on a connection of `pool`; a connection that failed is not reused. */
export function withPool<T>(pool: PgPool, fn: (conn: PgServerConnection) => Promise<T>): Promise<T> {
  return withConnection(pool, undefined, fn);
}

export function sqlText(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function check(result: SimpleResult): SimpleResult {
  if (result.error) throw new PgStatementError(result.error.code, result.error.message);
  return result;
}

/**
 * Runs `CREATE ... IF NOT EXISTS` statements. IF NOT EXISTS is not safe against a concurrent
 * creator: the loser gets 23505 (a catalog unique index) or 42P06/42P07, though the object now
 * exists, so that answer is taken as "made by another" and the statements run once more.
 */
export async function createIfMissing(c: PgServerConnection, sql: string): Promise<void> {
  const first = await c.query(sql);
  if (!first.error) return;
  if (!['23505', '42P06', '42P07'].includes(first.error.code)) check(first);
  check(await c.query(sql));
}

export class PgStatementError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${message} (SQLSTATE ${code})`);
  }
}

/**
 * The decision log: shardgate.twopc_decisions on the default shard's primary. It is as durable
 * as that primary's data (the same WAL, the same replicas); see docs/transactions.md.
 */
export class PgDecisionLog implements RecoveryLog {
  private created: Promise<void> | null = null;

  constructor(private readonly topology: RuntimeTopology) {}

  private primary(): RuntimeServer {
    const name = this.topology.view().defaultShard;
    const shard = this.topology.shardList().find((s) => s.name === name) ?? this.topology.shardList()[0]!;
    return shard.primary;
  }

  /**
   * Runs statements on the log's server. Writers create the table first (once per process);
   * readers do not, so a shardgate that never spans shards never adds a table to the default shard.
   */
  private async run(sql: string, create = true): Promise<SimpleResult> {
    if (create) await this.ready();
    return withServer(this.primary(), async (c) => c.query(sql));
  }

  /** The server the log lives on (a participant there carries the decision, see two-phase.ts). */
  server(): string {
    return this.primary().name;
  }

  /** Creates the table once per process (before a participant's transaction inserts into it). */
  ready(): Promise<void> {
    if (!this.created) {
      this.created = withServer(this.primary(), (c) => createIfMissing(c, CREATE_TABLE)).catch(
        (err: unknown) => {
          this.created = null;
          throw err;
        },
      );
    }
    return this.created;
  }

  async decideCommit(gid: string, servers: readonly string[]): Promise<void> {
    const result = await this.run(commitDecisionSql(gid, servers));
    if (result.error?.code === '23505') throw new DecisionTaken(gid);
    check(result);
  }

  async resolve(gid: string): Promise<'commit' | 'abort'> {
    // An abort that loses to a commit already written changes nothing: the first decision stands.
    const result = check(
      await this.run(
        `INSERT INTO ${TABLE} (gid, decision, participants) VALUES (${sqlText(gid)}, 'abort', '') ON CONFLICT (gid) DO NOTHING;
         SELECT decision FROM ${TABLE} WHERE gid = ${sqlText(gid)}`,
      ),
    );
    return result.rows[0]?.[0] === 'commit' ? 'commit' : 'abort';
  }

  async decisions(): Promise<Decision[]> {
    const raw = await this.run(
      `SELECT gid, decision, participants, extract(epoch FROM now() - decided_at)::float8::text FROM ${TABLE} ORDER BY decided_at LIMIT 10000`,
      false,
    );
    // No table yet: nothing was ever decided here.
    if (raw.error?.code === '42P01' || raw.error?.code === '3F000') return [];
    const result = check(raw);
    return result.rows.map((r) => ({
      gid: r[0]!,
      decision: r[1] === 'commit' ? 'commit' : 'abort',
      servers: r[2] ? r[2].split(',') : [],
      ageSeconds: Number(r[3]),
    }));
  }

  async forget(gids: readonly string[]): Promise<void> {
    check(await this.run(`DELETE FROM ${TABLE} WHERE gid IN (${gids.map(sqlText).join(', ')})`));
  }
}

export function commitDecisionSql(gid: string, servers: readonly string[]): string {
  return `INSERT INTO ${TABLE} (gid, decision, participants) VALUES (${sqlText(gid)}, 'commit', ${sqlText(servers.join(','))})`;
}

/** The service identity on a server: its role name and whether it is a superuser. */
interface ServiceRole {
  name: string;
  superuser: boolean;
}

/**
 * Recovery's view of the PostgreSQL primaries. PostgreSQL lets only a superuser or the role that
 * prepared a transaction finish it: when the service role is not a superuser, a transaction a
 * user's own role prepared is finished through a pool of that role (topology.rolePool).
 */
export class PgRecoveryPort extends TopologyRecoveryPort<RuntimeServer, RuntimeTopology> {
  /** Per server and service user, asked once. */
  private readonly serviceRoles = new Map<string, Promise<ServiceRole>>();

  async listPrepared(server: string): Promise<PreparedTransaction[]> {
    const result = await withServer(this.server(server), async (c) =>
      check(
        await c.query(
          `SELECT gid, extract(epoch FROM now() - prepared)::float8::text, owner FROM pg_catalog.pg_prepared_xacts
            WHERE gid LIKE ${sqlText(`${GID_PREFIX.replace('_', '\\_')}%`)} AND database = current_database()`,
          5_000,
        ),
      ),
    );
    return result.rows.map((r) => ({ gid: r[0]!, ageSeconds: Number(r[1]), owner: r[2]! }));
  }

  async finish(server: string, prepared: PreparedTransaction, commit: boolean): Promise<void> {
    const runtime = this.server(server);
    const { gid } = prepared;
    await withPool(await this.finisher(runtime, prepared.owner), async (c) => {
      const result = await c.query(`${commit ? 'COMMIT' : 'ROLLBACK'} PREPARED ${sqlText(gid)}`);
      // Already finished (by its coordinator or another recovery): nothing left to do.
      if (result.error?.code === '42704') return;
      check(result);
    });
  }

  /** The pool that may finish a transaction `owner` prepared: the service one, else the owner's. */
  private async finisher(server: RuntimeServer, owner: string): Promise<PgPool> {
    const service = await this.serviceRole(server);
    if (service.superuser || service.name === owner) return server.pool;
    const pool = this.topology.rolePool(server, owner);
    if (pool) return pool;
    throw new Error(
      `prepared by role "${owner}", which only that role or a superuser may finish, and the service role "${service.name}" is not a superuser: ` +
        `give shardgate a secret of "${owner}" (a users[] entry with backend.password or a clear-text password), let a client of "${owner}" log in, ` +
        'or finish it as a superuser as the decision log says; it stays in doubt until then',
    );
  }

  private serviceRole(server: RuntimeServer): Promise<ServiceRole> {
    const key = `${server.name}\0${server.pool.address.user}`;
    let known = this.serviceRoles.get(key);
    if (!known) {
      known = withServer(server, async (c) => {
        const r = check(
          await c.query(
            'SELECT rolsuper, current_user FROM pg_catalog.pg_roles WHERE rolname = current_user',
          ),
        );
        return { superuser: r.rows[0]?.[0] === 't', name: r.rows[0]?.[1] ?? '' };
      });
      // A failed check is asked again on the next pass.
      known.catch(() => this.serviceRoles.delete(key));
      this.serviceRoles.set(key, known);
    }
    return known;
  }
}
