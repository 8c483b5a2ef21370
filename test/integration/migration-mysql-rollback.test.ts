// After a MySQL split's switch, as an operator runs it against a real `shardgate start` process
// (dist/) and MariaDB servers from the launcher: the reverse binlog capture of each half keeps the
// old source current while a mysql2 writer inserts through port 6033, so `migrate rollback` (also
// after a SIGKILL of the proxy between the switch and the rollback) returns traffic to the source
// with every acknowledged write on it; `migrate verify` re-runs the whole-table verification
// after the switch (and fails on a row of the old server changed behind the proxy's back, which
// keeps cleanup refused); `migrate cleanup` empties the moved rows from the old server.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { repoRoot } from '../../src/local/local-config.js';
import type { MariadbServer } from '../../src/local/mariadb-cluster.js';
import type { MigrationState } from '../../src/migration/state-store.js';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { type StartedProcess, startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

const TOKEN = 'mysql-rollback-token';
const cli = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const USERS = Array.from({ length: 40 }, (_, i) => i + 1);

let fx: MysqlProxyFixture;
let spares: MariadbServer[];
let config: ShardgateConfig;
let proc: StartedProcess | null = null;

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: 40 });
  spares = [];
  for (const name of ['spare1', 'spare2', 'spare3', 'spare4']) spares.push(await fx.cluster.addSpare(name));
  // An unsharded table on s0 (the MySQL default shard): it moves to the first half and back.
  const s0 = primaryOf('s0');
  await fx.cluster.query(s0, 'CREATE TABLE site_notes (id INT PRIMARY KEY, body VARCHAR(20))');
  await fx.cluster.query(s0, "INSERT INTO site_notes VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  config = {
    ...fx.config,
    admin: { ...fx.config.admin, token: TOKEN },
    migration: {
      ...fx.config.migration,
      stateDir: join(mkdtempSync(join(tmpdir(), 'sg-mysql-rollback-')), 'migrations'),
      cutoverDeadlineMs: 15_000,
      inflightGraceMs: 200,
      spares: spares.map((s) => ({ name: s.name, host: s.host, port: s.port, replicas: [] })),
    },
  };
  proc = await startShardgateProcess(config, 90_000);
}, 240_000);

afterAll(async () => {
  await proc?.stop();
  await fx?.stop();
});

function primaryOf(shard: string): string {
  return fx.cluster.shards.find((s) => s.name === shard)!.primary.name;
}

function migrate(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'migrate', ...args, '--admin-url', `http://127.0.0.1:${proc!.adminPort}`],
      // Bounded: a CLI that hangs fails the test with its output instead of hanging it.
      { env: { ...process.env, SHARDGATE_ADMIN_TOKEN: TOKEN }, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function state(id: string): Promise<MigrationState> {
  const r = await fetch(`http://127.0.0.1:${proc!.adminPort}/api/migrations/${id}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(10_000),
  });
  return ((await r.json()) as { state: MigrationState }).state;
}

async function waitPhase(id: string, phase: string, ms = 240_000): Promise<MigrationState> {
  let last: MigrationState | null = null;
  try {
    await waitFor(
      `migration ${id} to reach ${phase}`,
      async () => {
        last = await state(id);
        if (last.error) throw new Error(`migration failed: ${last.error}`);
        return last.phase === phase;
      },
      ms,
      200,
    );
  } catch (err) {
    // Where it stood instead: the phase, its line and the phases it went through.
    const seen = last as MigrationState | null;
    const trail = seen?.history.map((h) => `${h.at} ${h.phase}: ${h.note}`).join('\n') ?? '';
    throw new Error(`${(err as Error).message} (at ${seen?.phase}: ${seen?.status})\n${trail}`);
  }
  return last as unknown as MigrationState;
}

async function split(shard: string, at: string, targets: string): Promise<string> {
  const r = await migrate(
    'split',
    shard,
    '--targets',
    targets,
    '--at',
    at,
    '--verify',
    'full',
    '--no-follow',
    '--json',
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

function proxyConnection(): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1',
    port: proc!.mysqlPort!,
    user: 'app',
    password: 'app',
    database: 'shardgate',
  });
}

/** Inserts through whichever proxy process is up; an id counts once its INSERT returned OK. */
function startWriter(base: number, users: number[]) {
  const acked: Array<{ id: number; user: number }> = [];
  let stop = false;
  let conn: mysql.Connection | null = null;
  const done = (async () => {
    for (let n = 0; !stop; n++) {
      try {
        if (!conn) {
          if (!proc?.mysqlPort || proc.exited() !== null) throw new Error('no proxy');
          conn = await proxyConnection();
          conn.on('error', () => undefined);
        }
        const id = base + n;
        const user = users[n % users.length]!;
        // Bounded, so writer.stop() cannot wait for ever on an INSERT the proxy never answers.
        await conn.query({
          sql: 'INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)',
          values: [id, user],
          timeout: 60_000,
        });
        acked.push({ id, user });
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

async function rows<T>(server: string, sql: string): Promise<T[]> {
  return fx.cluster.query<T & Record<string, unknown>>(server, sql) as Promise<T[]>;
}

async function likeIds(server: string, from: number): Promise<Map<number, number>> {
  const found = await rows<{ id: number | string; user_id: number | string }>(
    server,
    `SELECT id, user_id FROM likes WHERE id >= ${from}`,
  );
  return new Map(found.map((r) => [Number(r.id), Number(r.user_id)]));
}

describe('MySQL split after its switch', () => {
  it('rolls back through the proxy (after a SIGKILL too) with every write made on the halves', async () => {
    const s0Users = USERS.filter((u) => fx.owner(u) === 's0');
    const writer = startWriter(80_000_000, USERS);
    const reader = { conn: null as mysql.Connection | null };
    try {
      await waitFor('the first writes', () => writer.acked.length > 20, 60_000, 20);
      const id = await split('s0', '40', 'spare1,spare2');
      const switched = await waitPhase(id, 'verified');
      expect(switched.plan.protocol).toBe('mysql');
      expect(switched.mysql?.reverseGtid).toHaveLength(2);
      const atSwitch = writer.acked.length;
      await waitFor('writes on the halves', () => writer.acked.length >= atSwitch + 40, 60_000, 20);

      // Updates and deletes on the halves through the proxy, of every kind of moved table.
      const before = writer.acked.slice(0, atSwitch).filter((a) => fx.owner(a.user) === 's0');
      const updated = before[0]!.id;
      const deleted = before[1]!.id;
      const ref = Object.entries(config.tables).find(([, t]) => t.reference)![0];
      const [refRow] = await rows<{ id: number | string }>(
        primaryOf('s0'),
        `SELECT min(id) AS id FROM ${ref}`,
      );
      const refId = Number(refRow!.id);
      reader.conn = await proxyConnection();
      await reader.conn.query('UPDATE likes SET post_id = 99 WHERE id = ? AND user_id = ?', [
        updated,
        before[0]!.user,
      ]);
      await reader.conn.query('DELETE FROM likes WHERE id = ? AND user_id = ?', [deleted, before[1]!.user]);
      await reader.conn.query("UPDATE site_notes SET body = 'changed' WHERE id = 2");
      await reader.conn.query("INSERT INTO site_notes VALUES (4, 'd')");
      await reader.conn.query(`UPDATE ${ref} SET user_id = 4242 WHERE id = ?`, [refId]);
      await reader.conn.end();
      reader.conn = null;

      // The proxy dies after the switch; started again, the reverse capture resumes from its
      // checkpoint in the state file.
      proc!.child.kill('SIGKILL');
      await waitFor('the proxy to die', () => proc!.exited() !== null, 30_000, 20);
      proc = await startShardgateProcess(config, 90_000);
      const restarted = writer.acked.length;
      await waitFor('writes after the restart', () => writer.acked.length >= restarted + 40, 60_000, 20);
      expect((await state(id)).phase).toBe('verified');

      const back = await migrate('rollback', id, '--json');
      expect(back.stderr).toBe('');
      expect(back.status).toBe(0);
      const rolled = await state(id);
      expect(rolled.phase).toBe('rolled_back');
      expect(rolled.cutovers.at(-1)?.outcome).toBe('switched');
      const atRollback = writer.acked.length;
      await waitFor('writes after the rollback', () => writer.acked.length >= atRollback + 20, 60_000, 20);
      await writer.stop();

      // Every acknowledged write of an s0 user is on the old s0 server exactly as the halves had it.
      const s0 = await likeIds(primaryOf('s0'), 80_000_000);
      const s1 = await likeIds(primaryOf('s1'), 80_000_000);
      const missing = writer.acked
        .filter((a) => a.id !== deleted)
        .filter((a) => !(fx.owner(a.user) === 's0' ? s0 : s1).has(a.id))
        .map((a) => a.id);
      expect(missing).toEqual([]);
      expect(s0.has(deleted)).toBe(false);
      expect(writer.acked.filter((a) => s0.has(a.id) && s1.has(a.id))).toEqual([]);
      const [u] = await rows<{ post_id: number | string }>(
        primaryOf('s0'),
        `SELECT post_id FROM likes WHERE id = ${updated}`,
      );
      expect(Number(u!.post_id)).toBe(99);
      expect(await rows(primaryOf('s0'), 'SELECT id, body FROM site_notes ORDER BY id')).toEqual([
        { id: 1, body: 'a' },
        { id: 2, body: 'changed' },
        { id: 3, body: 'c' },
        { id: 4, body: 'd' },
      ]);
      const [r] = await rows<{ user_id: number | string }>(
        primaryOf('s0'),
        `SELECT user_id FROM ${ref} WHERE id = ${refId}`,
      );
      expect(Number(r!.user_id)).toBe(4242);

      // Reads and writes through the proxy after the rollback: the old s0 serves the range again.
      reader.conn = await proxyConnection();
      const [seen] = await reader.conn.query('SELECT id FROM likes WHERE id >= 80000000');
      const counts = new Map<number, number>();
      for (const row of seen as Array<{ id: number | string }>)
        counts.set(Number(row.id), (counts.get(Number(row.id)) ?? 0) + 1);
      expect(writer.acked.filter((a) => a.id !== deleted && counts.get(a.id) !== 1)).toEqual([]);
      expect(counts.has(deleted)).toBe(false);
      const fresh = 89_999_999;
      await reader.conn.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 3)', [
        fresh,
        s0Users[0],
      ]);
      expect((await likeIds(primaryOf('s0'), fresh)).get(fresh)).toBe(s0Users[0]);
      for (const spare of ['spare1', 'spare2']) expect((await likeIds(spare, fresh)).has(fresh)).toBe(false);
      const [notes] = await reader.conn.query('SELECT body FROM site_notes WHERE id = 4');
      expect(notes).toEqual([{ body: 'd' }]);

      // Rolled back is final.
      const again = await migrate('cleanup', id);
      expect(again.status).not.toBe(0);
    } finally {
      await writer.stop();
      await reader.conn?.end().catch(() => undefined);
    }
  }, 600_000);

  it('verifies again after the switch and cleans up the old server', async () => {
    const s1Users = USERS.filter((u) => fx.owner(u) === 's1');
    const writer = startWriter(90_000_000, s1Users);
    try {
      await waitFor('the first writes', () => writer.acked.length > 20, 60_000, 20);
      const id = await split('s1', 'c0', 'spare3,spare4');
      await waitPhase(id, 'verified');
      const atSwitch = writer.acked.length;
      await waitFor('writes on the halves', () => writer.acked.length >= atSwitch + 40, 60_000, 20);
      await writer.stop();

      // A row changed on the old server behind the proxy's back (a change on a half would reach it
      // through the reverse capture): verification fails, cleanup is refused.
      const victim = writer.acked.at(-1)!.id;
      const old = primaryOf('s1');
      // Changed only once the reverse capture has brought the row there: an UPDATE before that
      // matches nothing, the capture's insert follows, and the verification rightly passes.
      await waitFor(
        'the last write on the old server',
        async () => (await rows(old, `SELECT id FROM likes WHERE id = ${victim}`)).length === 1,
        120_000,
        100,
      );
      await fx.cluster.query(old, `UPDATE likes SET post_id = 77 WHERE id = ${victim}`);
      // The CLI's `verify` follows the verification to its end and exits non-zero when it failed.
      const v1 = await migrate('verify', id, '--json');
      expect(v1.status).not.toBe(0);
      expect((JSON.parse(v1.stdout) as { status: string }).status).toMatch(/verification failed/);
      const failed = await waitPhase(id, 'switched', 400_000);
      expect(failed.verify?.mismatches.map((m) => m.table)).toEqual(['likes']);
      const refused = await migrate('cleanup', id);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/mismatch/);
      // A rollback onto a source that differs would lose the changed row: refused before any block.
      const noRollback = await migrate('rollback', id);
      expect(noRollback.status).not.toBe(0);
      expect(noRollback.stderr).toMatch(/differ from the targets.*likes.*not rolled back/);
      expect((await state(id)).phase).toBe('switched');

      await fx.cluster.query(old, `UPDATE likes SET post_id = 1 WHERE id = ${victim}`);
      const v2 = await migrate('verify', id, '--json');
      expect(v2.status).toBe(0);
      const verified = await waitPhase(id, 'verified');
      expect(verified.verify?.mismatches).toEqual([]);
      // The manager's own verification right after the switch, then the two asked for here.
      expect(verified.history.filter((h) => h.phase === 'verifying')).toHaveLength(3);

      const likesBefore = await rows<{ n: number | string }>(old, 'SELECT count(*) AS n FROM likes');
      expect(Number(likesBefore[0]!.n)).toBeGreaterThan(0);
      const cleaned = await migrate('cleanup', id, '--json');
      expect(cleaned.stderr).toBe('');
      expect(cleaned.status).toBe(0);
      const end = await state(id);
      expect(end.phase).toBe('cleaned');
      // Every moved table stays on the old server, empty (the whole range moved, and the
      // reference tables left with the shard).
      for (const t of end.plan.tables) {
        const [n] = await rows<{ n: number | string }>(old, `SELECT count(*) AS n FROM ${t.name}`);
        expect([t.name, Number(n!.n)]).toEqual([t.name, 0]);
      }
      // The halves still serve every acknowledged write through the proxy.
      const reader = await proxyConnection();
      try {
        const [seen] = await reader.query('SELECT id FROM likes WHERE id >= 90000000');
        const ids = new Set((seen as Array<{ id: number | string }>).map((r) => Number(r.id)));
        expect(writer.acked.filter((a) => !ids.has(a.id))).toEqual([]);
      } finally {
        await reader.end();
      }
      const late = await migrate('rollback', id);
      expect(late.status).not.toBe(0);
      expect(late.stderr).toMatch(/cleanup/);
    } finally {
      await writer.stop();
    }
  }, 600_000);
});
