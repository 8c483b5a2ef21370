// Helpers of the MySQL migration integration tests that drive `shardgate start` from dist/ with the
// CLI and write through its port 6033: the CLI, the admin API's status, writers with a ledger of
// acknowledged ids, and counts of ids on a server.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { expect } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { repoRoot } from '../../src/local/local-config.js';
import type { MariadbCluster } from '../../src/local/mariadb-cluster.js';
import type { MigrationState } from '../../src/migration/state-store.js';
import { type StartedProcess, startShardgateProcess } from './start-process.js';
import { waitFor } from './wait-for.js';

const cli = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type Status = { phase: string; status: string; copy: { rows: number; estimatedRows: number } } & {
  state: MigrationState;
};

export class MysqlMigrationDriver {
  /** The running proxy process (replaced by the test after a kill). */
  proc: StartedProcess | null = null;
  constructor(
    private readonly token: string,
    private readonly cluster: MariadbCluster,
  ) {}

  migrate(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [cli, 'migrate', ...args, '--admin-url', `http://127.0.0.1:${this.proc!.adminPort}`],
        // Bounded: a CLI that hangs fails the test with its output instead of hanging it.
        { env: { ...process.env, SHARDGATE_ADMIN_TOKEN: this.token }, timeout: 120_000 },
        (err, stdout, stderr) =>
          resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  async status(id: string): Promise<Status> {
    const r = await fetch(`http://127.0.0.1:${this.proc!.adminPort}/api/migrations/${id}`, {
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(10_000),
    });
    return (await r.json()) as Status;
  }

  /** The migration's state once it reached `phase` (failing on an error on the way). */
  async until(id: string, phase: string, ms = 300_000): Promise<MigrationState> {
    let end: Status | null = null;
    try {
      await waitFor(
        `${id} to reach ${phase}`,
        async () => {
          end = await this.status(id);
          return end.phase === phase || end.state.error !== null;
        },
        ms,
        200,
      );
    } catch (err) {
      // Where it stood instead: the phase, its line and the phases it went through.
      const seen = (end as Status | null)?.state;
      const trail = seen?.history.map((h) => `${h.at} ${h.phase}: ${h.note}`).join('\n') ?? '';
      throw new Error(`${(err as Error).message} (at ${seen?.phase}: ${seen?.status})\n${trail}`);
    }
    const state = (end as unknown as Status).state;
    expect(state.error).toBeNull();
    expect(state.phase).toBe(phase);
    return state;
  }

  /**
   * `migrate verify` after the switch while `writer` keeps writing to the moved tables: the
   * verification compares each table at one point, so it must pass with writes going on. The
   * migration's state once verified again.
   */
  async verifyWhileWriting(id: string, writer: { acked: readonly number[] }): Promise<MigrationState> {
    const before = writer.acked.length;
    const earlier = (await this.status(id)).state.history.filter((h) => h.phase === 'verifying').length;
    const again = await this.migrate('verify', id, '--json');
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    // The writer was acknowledged while the verification ran, not only before it.
    expect(writer.acked.length).toBeGreaterThan(before);
    const verified = await this.until(id, 'verified');
    expect(verified.verify?.mismatches).toEqual([]);
    expect(verified.history.filter((h) => h.phase === 'verifying').length).toBeGreaterThan(earlier);
    return verified;
  }

  /** SIGKILLs the proxy process, then starts it again with `config` (the same state directory). */
  async killAndRestart(config: ShardgateConfig): Promise<void> {
    const killed = this.proc!;
    killed.child.kill('SIGKILL');
    await waitFor('the proxy to die', () => killed.exited() !== null, 30_000, 20);
    expect(killed.exited()).toBe('SIGKILL');
    this.proc = await startShardgateProcess(config, 90_000);
  }

  connect(): Promise<mysql.Connection> {
    return mysql.createConnection({
      host: '127.0.0.1',
      port: this.proc!.mysqlPort!,
      user: 'app',
      password: 'app',
      database: 'shardgate',
    });
  }

  /** After `migrate verify`: the verification passes again, then `migrate cleanup` runs to its end. */
  async reverifiedThenCleaned(id: string): Promise<void> {
    const verified = await this.until(id, 'verified');
    expect(verified.verify?.mismatches).toEqual([]);
    expect(verified.history.filter((h) => h.phase === 'verifying').length).toBeGreaterThan(0);
    await this.ok('cleanup', id);
    await this.until(id, 'cleaned');
  }

  /** Runs `use` on a connection through the proxy, closed afterwards. */
  async withConnection<T>(use: (c: mysql.Connection) => Promise<T>): Promise<T> {
    const c = await this.connect();
    try {
      return await use(c);
    } finally {
      await c.end();
    }
  }

  /**
   * Runs `insert(id)` through whichever proxy process is up; an id counts once it returned OK.
   * Server errors other than the cutover's 1213 (its transaction rolled back) are kept: none may
   * occur; connection errors while the proxy is down are not acknowledged writes, nothing more.
   */
  startWriter(base: number, insert: (c: mysql.Connection, id: number) => Promise<unknown>) {
    return writeLoop({
      connect: () => {
        if (!this.proc?.mysqlPort || this.proc.exited() !== null) throw new Error('no proxy');
        return this.connect();
      },
      write: async (c, n) => {
        await insert(c, base + n);
        return base + n;
      },
      counts: (e) => Boolean(e.sqlState) && this.proc?.exited() === null,
      retryMs: 20,
    });
  }

  /** Starts a migration (`--no-follow --json`); the CLI must succeed. Returns the migration's id. */
  async start(...args: string[]): Promise<string> {
    return (JSON.parse(await this.ok(...args, '--no-follow')) as { id: string }).id;
  }

  /** Runs `migrate ... --json`, which must exit 0 with nothing on stderr; returns its stdout. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.migrate(...args, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  }

  /** id -> count of rows with that id at or above `from` in `table` on a server. */
  async countsOn(server: string, table: string, from: number): Promise<Map<number, number>> {
    const rows = await this.cluster.query<{ id: number | string }>(
      server,
      `SELECT id FROM ${table} WHERE id >= ${from}`,
    );
    return countIds(rows);
  }

  /** countsOn summed over several servers (a row on two of them counts twice). */
  async countsOnAll(servers: string[], table: string, from: number): Promise<Map<number, number>> {
    const sum = new Map<number, number>();
    for (const server of servers)
      for (const [id, n] of await this.countsOn(server, table, from)) sum.set(id, (sum.get(id) ?? 0) + n);
    return sum;
  }
}

export interface WriteLoop<A> {
  /** A connection to write on (it may throw: no proxy to write through yet). */
  connect(): Promise<mysql.Connection>;
  /** The loop's n-th write; what it returns is acknowledged once it returned OK. */
  write(c: mysql.Connection, n: number): Promise<A>;
  /** Whether a failed write's error is kept (the cutover's 1213, never); all by default. */
  counts?(e: { sqlState?: string; errno?: number }): boolean;
  /** Pause after a failed write. */
  retryMs: number;
  /** Pause after every write. */
  paceMs?: number;
  /** Loops writing at once, on a connection each (1 by default). */
  loops?: number;
}

/**
 * Writes until stopped, each loop on its own connection; a failed write drops the connection and
 * the next one opens another. The cutover's 1213 (a transaction it rolled back, not acknowledged)
 * is never an error; the errors `counts` keeps are, and a test expects none.
 */
export function writeLoop<A>(o: WriteLoop<A>) {
  const acked: A[] = [];
  const errors: string[] = [];
  let stop = false;
  const one = async () => {
    let conn: mysql.Connection | null = null;
    for (let n = 0; !stop; n++) {
      try {
        if (!conn) {
          conn = await o.connect();
          conn.on('error', () => undefined);
        }
        acked.push(await o.write(conn, n));
      } catch (err) {
        const e = err as { sqlState?: string; errno?: number; message: string };
        if (e.errno !== 1213 && (o.counts?.(e) ?? true)) errors.push(`${e.errno}: ${e.message}`);
        conn?.destroy();
        conn = null;
        await sleep(o.retryMs);
      }
      if (o.paceMs) await sleep(o.paceMs);
    }
    await conn?.end().catch(() => undefined);
  };
  const done = Promise.all(Array.from({ length: o.loops ?? 1 }, one));
  return {
    acked,
    errors,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

/** id -> count of the rows a query through the proxy returns (a row on two shards counts twice). */
export async function countsVia(c: mysql.Connection, sql: string): Promise<Map<number, number>> {
  const [rows] = await c.query(sql);
  return countIds(rows as Array<{ id: number | string }>);
}

/** count(*) and sum(id) of a table's rows with ids in [from, below) on a server. */
export async function countSum(
  cluster: MariadbCluster,
  server: string,
  table: string,
  from: number,
  below = Number.MAX_SAFE_INTEGER,
): Promise<{ n: number; sum: number }> {
  const [r] = await cluster.query<{ n: number | string; s: number | string | null }>(
    server,
    `SELECT count(*) AS n, sum(id) AS s FROM ${table} WHERE id >= ${from} AND id < ${below}`,
  );
  return { n: Number(r!.n), sum: Number(r!.s ?? 0) };
}

/** What countSum must find for a list of acknowledged ids. */
export const total = (ids: readonly number[]) => ({ n: ids.length, sum: ids.reduce((n, a) => n + a, 0) });

export function countIds(rows: ReadonlyArray<{ id: number | string }>): Map<number, number> {
  const counts = new Map<number, number>();
  for (const r of rows) counts.set(Number(r.id), (counts.get(Number(r.id)) ?? 0) + 1);
  return counts;
}

/** Acknowledged ids not held exactly once. */
export function notOnce(acked: readonly number[], held: Map<number, number>): string[] {
  return acked.filter((id) => held.get(id) !== 1).map((id) => `${id} x${held.get(id) ?? 0}`);
}
