// A MySQL shard split through the migration manager, as an operator runs it: `shardgate migrate
// split` (the CLI, against the admin API of a real `shardgate start` process from dist/) splits a
// MariaDB shard while a mysql2 writer inserts through port 6033; the proxy is killed (SIGKILL) in
// the middle of the copy, started again on the same state directory, and `migrate resume` goes
// on from the saved checkpoint to the cutover block and the switch. Afterwards every
// acknowledged write is on the half owning its key exactly once and on no other server of the
// new topology, and the API showed the copy's progress and the phases on the way.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { repoRoot } from '../../src/local/local-config.js';
import type { MariadbServer } from '../../src/local/mariadb-cluster.js';
import { keyOwner } from '../../src/migration/row-owner.js';
import type { MigrationState } from '../../src/migration/state-store.js';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { type StartedProcess, startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

const TOKEN = 'mysql-split-token';
const cli = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let fx: MysqlProxyFixture;
let spares: MariadbServer[];
let config: ShardgateConfig;
let proc: StartedProcess | null = null;

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: 40 });
  spares = [await fx.cluster.addSpare('spare1'), await fx.cluster.addSpare('spare2')];
  // Enough rows on s0 that the throttled copy is still running when the proxy is killed.
  const s0 = fx.cluster.shards.find((s) => s.name === 's0')!.primary as MariadbServer;
  const users = Array.from({ length: 40 }, (_, i) => i + 1).filter((u) => fx.owner(u) === 's0');
  for (let chunk = 0; chunk < 6; chunk++) {
    const values = Array.from({ length: 2000 }, (_, i) => {
      const id = 10_000_000 + chunk * 2000 + i;
      return `(${id}, ${users[id % users.length]}, 1)`;
    });
    await fx.cluster.query(s0.name, `INSERT INTO likes (id, user_id, post_id) VALUES ${values.join(', ')}`);
  }
  // An unsharded table on the first MySQL shard (its MySQL default): it moves to the first half.
  await fx.cluster.query(s0.name, 'CREATE TABLE site_notes (id INT PRIMARY KEY, body VARCHAR(20))');
  await fx.cluster.query(s0.name, "INSERT INTO site_notes VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  config = {
    ...fx.config,
    admin: { ...fx.config.admin, token: TOKEN },
    migration: {
      ...fx.config.migration,
      stateDir: join(mkdtempSync(join(tmpdir(), 'sg-mysql-split-')), 'migrations'),
      rowsPerSecond: 1_500,
      batchRows: 150,
      cutoverDeadlineMs: 15_000,
      inflightGraceMs: 200,
      spares: spares.map((s) => ({ name: s.name, host: s.host, port: s.port, replicas: [] })),
    },
  };
}, 240_000);

afterAll(async () => {
  await proc?.stop();
  await fx?.stop();
});

function migrate(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'migrate', ...args, '--admin-url', `http://127.0.0.1:${proc!.adminPort}`],
      { env: { ...process.env, SHARDGATE_ADMIN_TOKEN: TOKEN } },
      (err, stdout, stderr) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

type Status = { phase: string; status: string; copy: { rows: number; estimatedRows: number } } & {
  state: MigrationState;
};

async function status(id: string): Promise<Status> {
  const r = await fetch(`http://127.0.0.1:${proc!.adminPort}/api/migrations/${id}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return (await r.json()) as Status;
}

/** Inserts through whichever proxy process is up; an id counts once its INSERT returned OK. */
function startWriter(base: number, users: number[]) {
  const acked: number[] = [];
  let stop = false;
  let conn: mysql.Connection | null = null;
  const done = (async () => {
    for (let n = 0; !stop; n++) {
      try {
        if (!conn) {
          const port = proc?.mysqlPort;
          if (!port || proc?.exited() !== null) throw new Error('no proxy');
          conn = await mysql.createConnection({
            host: '127.0.0.1',
            port,
            user: 'app',
            password: 'app',
            database: 'shardgate',
          });
          conn.on('error', () => undefined);
        }
        const id = base + n;
        await conn.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)', [
          id,
          users[n % users.length],
        ]);
        acked.push(id);
      } catch {
        // The proxy is down (killed) or the write was refused: not acknowledged, try again later.
        conn?.destroy();
        conn = null;
        await sleep(50);
      }
    }
    await conn?.end().catch(() => undefined);
  })();
  return {
    acked,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

describe('MySQL split through the migration manager', () => {
  it('splits s0 with `migrate split`, survives a SIGKILL mid-copy, resumes, switches exactly once', async () => {
    proc = await startShardgateProcess(config, 90_000);
    const users = Array.from({ length: 40 }, (_, i) => i + 1);
    const writer = startWriter(70_000_000, users);
    try {
      await waitFor('the first writes', () => writer.acked.length > 20, 60_000, 20);
      const started = await migrate(
        'split',
        's0',
        '--targets',
        'spare1,spare2',
        '--at',
        '40',
        '--verify',
        'full',
        '--no-follow',
        '--json',
      );
      expect(started.stderr).toBe('');
      expect(started.status).toBe(0);
      const id = (JSON.parse(started.stdout) as { id: string }).id;
      expect(id).toMatch(/^split-s0-/);

      // Progress in the API while the copy runs, then the kill.
      let before: Status | null = null;
      await waitFor(
        'the copy to pass 3,000 rows',
        async () => {
          before = await status(id);
          return before.phase === 'copying' && before.copy.rows >= 3_000;
        },
        120_000,
        100,
      );
      const seen = before as unknown as Status;
      expect(seen.state.plan.protocol).toBe('mysql');
      expect(seen.state.plan.tables.find((t) => t.name === 'site_notes')?.kind).toBe('unsharded');
      expect(seen.copy.estimatedRows).toBeGreaterThan(0);
      expect(seen.state.mysql?.copy?.gtidPosition).toMatch(/^\d+-\d+-\d+/);
      proc.child.kill('SIGKILL');
      await waitFor('the proxy to die', () => proc!.exited() !== null, 30_000, 20);
      expect(proc.exited()).toBe('SIGKILL');

      proc = await startShardgateProcess(config, 90_000);
      const after = await status(id);
      expect(after.phase).toBe('copying');
      // The state file kept the checkpoint: at least what the API showed before the kill.
      expect(after.copy.rows).toBeGreaterThanOrEqual(seen.copy.rows);
      expect(after.state.copy.find((t) => t.table === 'likes')?.done).toBe(false);
      const resumed = await migrate('resume', id, '--json');
      expect(resumed.stderr).toBe('');
      expect(resumed.status).toBe(0);

      let end: Status | null = null;
      await waitFor(
        'the split to end',
        async () => {
          end = await status(id);
          return end.phase === 'verified' || end.state.error !== null;
        },
        240_000,
        200,
      );
      const final = end as unknown as Status;
      expect(final.state.error).toBeNull();
      expect(final.phase).toBe('verified');
      expect(final.state.verify?.mismatches).toEqual([]);
      expect(final.state.cutovers.at(-1)?.outcome).toBe('switched');
      const phases = final.state.history.map((h) => h.phase);
      for (const p of ['schema', 'copying', 'catching_up', 'blocking', 'switched', 'verified'])
        expect(phases).toContain(p);
      // Resumed in the copy, not started over (which would pass through schema again).
      expect(phases.filter((p) => p === 'schema')).toHaveLength(1);
      // The copy went on from its checkpoint instead of starting over: the rows it reports are
      // the table's rows once (a second full pass would count them twice).
      const likesCopy = final.state.copy.find((t) => t.table === 'likes')!;
      expect(likesCopy.done).toBe(true);

      await sleep(300);
      await writer.stop();
      const acked = writer.acked;
      expect(acked.length).toBeGreaterThan(0);
      const s0 = fx.cluster.shards.find((s) => s.name === 's0')!.primary.name;
      const [older, all] = await Promise.all(
        ['SELECT count(*) AS n FROM likes WHERE id < 70000000', 'SELECT count(*) AS n FROM likes'].map(
          async (sql) => Number((await fx.cluster.query<{ n: string | number }>(s0, sql))[0]!.n),
        ),
      );
      // The copy counted every row that was there before the writer once, and at most the rows
      // the source ever had: a resume that started over would have counted the first part twice.
      expect(likesCopy.rows).toBeGreaterThanOrEqual(older!);
      expect(likesCopy.rows).toBeLessThanOrEqual(all!);

      // Every acknowledged write, on the servers of the new topology: exactly once, on its owner.
      const targets = final.state.plan.targets;
      const ranges = targets.map((t) => parseKeyRange(t.range));
      const keyType = final.state.plan.tables.find((t) => t.name === 'likes')!.keyType;
      const where = 'SELECT id, user_id FROM likes WHERE id >= 70000000';
      const onServer = async (name: string) =>
        new Map(
          (await fx.cluster.query<{ id: number | string; user_id: number | string }>(name, where)).map(
            (r) => [Number(r.id), Number(r.user_id)],
          ),
        );
      const halves = await Promise.all(targets.map((t) => onServer(t.server.name)));
      const s1 = await onServer(fx.cluster.shards.find((s) => s.name === 's1')!.primary.name);
      const problems: string[] = [];
      const userOf = new Map<number, number>();
      for (const m of [...halves, s1]) for (const [id, u] of m) userOf.set(id, u);
      for (const id of acked) {
        const u = userOf.get(id);
        if (u === undefined) {
          problems.push(`acknowledged ${id} missing`);
          continue;
        }
        const owner = fx.owner(u) === 's1' ? 's1' : targets[keyOwner(String(u), keyType, ranges)!]!.shard;
        const where = [
          ...targets.map((t, i) => (halves[i]!.has(id) ? t.shard : null)),
          s1.has(id) ? 's1' : null,
        ].filter((x) => x !== null);
        if (where.length !== 1 || where[0] !== owner)
          problems.push(`acknowledged ${id} (user ${u}, owner ${owner}) on [${where.join(', ')}]`);
      }
      expect(problems).toEqual([]);

      // Through the proxy after the switch: one row per acknowledged id (a row on two shards would
      // show twice in the scatter), and s0 is gone from the MySQL routing.
      const reader = await mysql.createConnection({
        host: '127.0.0.1',
        port: proc.mysqlPort!,
        user: 'app',
        password: 'app',
        database: 'shardgate',
      });
      try {
        const [rows] = await reader.query('SELECT id FROM likes WHERE id >= 70000000');
        const counts = new Map<number, number>();
        for (const r of rows as Array<{ id: number | string }>)
          counts.set(Number(r.id), (counts.get(Number(r.id)) ?? 0) + 1);
        expect(acked.filter((id) => counts.get(id) !== 1)).toEqual([]);
        const [notes] = await reader.query('SELECT id, body FROM site_notes ORDER BY id');
        expect(notes).toEqual([
          { id: 1, body: 'a' },
          { id: 2, body: 'b' },
          { id: 3, body: 'c' },
        ]);
      } finally {
        await reader.end();
      }

      // Cleanup removes the moved rows from the old server (rollback and verify after the switch:
      // migration-mysql-rollback.test.ts).
      const cleanup = await migrate('cleanup', id, '--json');
      expect(cleanup.stderr).toBe('');
      expect(cleanup.status).toBe(0);
      expect((await status(id)).phase).toBe('cleaned');
      const [left] = await fx.cluster.query<{ n: string | number }>(s0, 'SELECT count(*) AS n FROM likes');
      expect(Number(left!.n)).toBe(0);
    } finally {
      await writer.stop();
    }
  }, 600_000);
});
