// Operators' table moves and merges with the real CLI against a real `shardgate start` process:
// the proxy is killed (SIGKILL) in the middle of the throttled copy (a merge's second source),
// started again, and `shardgate migrate resume` finishes from the last checkpoint: no row lost,
// none copied twice, the proxy serving from the new place; then a cleanup (move) and a rollback
// (merge) through the CLI.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { countOn as count, sleep } from '../support/migrate-cli-fixture.js';
import { useMigrateCliFixture } from '../support/use-migrate-cli-fixture.js';

interface Status {
  phase: string;
  status: string;
  copy: { rows: number };
  state: { legs: Array<{ copy: Array<{ rows: number; done: boolean }> }> };
}

const f = useMigrateCliFixture({
  spares: ['spare1'],
  users: 300,
  prepare: async (cluster) => {
    // An unsharded table on the default shard s0, big enough for a copy that takes seconds.
    const s0 = new pg.Client({
      host: '127.0.0.1',
      port: cluster.shards[0]!.primary.port,
      user: 'postgres',
      database: 'shardgate',
    });
    await s0.connect();
    await s0.query('CREATE TABLE audit_log (id bigserial PRIMARY KEY, note text NOT NULL)');
    await s0.query("INSERT INTO audit_log (note) SELECT 'seed ' || n FROM generate_series(1, 4000) n");
    // The proxy's `app` reaches the servers as its own role (no superuser): give it the table as an
    // application's migration would. The moves copy these grants along.
    await s0.query('GRANT SELECT, INSERT, UPDATE, DELETE ON audit_log TO app');
    await s0.query('GRANT USAGE ON SEQUENCE audit_log_id_seq TO app');
    await s0.end();
  },
});
const migrate = (...args: string[]) => f.migrate(...args);
const status = (id: string) => f.status<Status>(id);

/** Kills the proxy (SIGKILL) once `ready` holds during the copy, and starts it again. */
async function killMidCopy(id: string, ready: (s: Status) => boolean): Promise<Status> {
  let s = await status(id);
  for (let i = 0; i < 600 && !(s.phase === 'copying' && ready(s)); i++) {
    await sleep(25);
    s = await status(id);
  }
  await f.crashAndRestart();
  return s;
}

async function proxyQuery(sql: string): Promise<Array<Record<string, unknown>>> {
  const c = await f.client();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

const port = (name: string) =>
  name === 'spare1' ? f.cluster.spares[0]!.port : f.cluster.shards.find((s) => s.name === name)!.primary.port;

describe('shardgate migrate move-table and merge with a proxy crash mid-copy', () => {
  it('move-table resumes after SIGKILL from the checkpoint and completes exactly', async () => {
    const started = await migrate('move-table', 'audit_log', '--to', 's1', '--verify', 'full', '--no-follow');
    expect(started.status, started.stderr).toBe(0);
    const id = /migration (\S+) started/.exec(started.stdout)![1]!;
    const killed = await killMidCopy(id, (s) => s.copy.rows >= 300);
    expect(killed.phase).toBe('copying');
    expect(killed.copy.rows).toBeLessThan(4000);

    const resumed = await migrate('resume', id);
    expect(resumed.status, `${resumed.stdout}\n${resumed.stderr}`).toBe(0);
    expect(resumed.stdout).toContain(`${id}: verified`);
    expect(await count(port('s1'), 'SELECT count(*) AS n FROM audit_log')).toBe(4000);
    // Served by s1 now, its sequence continuing after the copied ids.
    const served = await proxyQuery(
      "INSERT INTO audit_log (note) VALUES ('after') RETURNING id, inet_server_port() AS p",
    );
    expect(served).toEqual([{ id: '4001', p: port('s1') }]);

    const cleaned = await migrate('cleanup', id);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect(await count(port('s0'), 'SELECT count(*) AS n FROM audit_log')).toBe(0);
  }, 240_000);

  it("merge resumes after SIGKILL during the second source's copy, then rolls back", async () => {
    const dry = await migrate('merge', 's1', 's0', '--into', 'spare1', '--dry-run');
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('-> s0_s1 - on spare1');

    const started = await migrate('merge', 's0', 's1', '--into', 'spare1', '--verify', 'full', '--no-follow');
    expect(started.status, started.stderr).toBe(0);
    const id = /migration (\S+) started/.exec(started.stdout)![1]!;
    // The first source's copy is done and the second's is under way: the resume must continue
    // the second from its checkpoint and leave the first's rows alone.
    const killed = await killMidCopy(id, (s) => {
      const second = s.state.legs[1]?.copy ?? [];
      return second.reduce((n, t) => n + t.rows, 0) >= 200;
    });
    expect(killed.phase).toBe('copying');
    expect(killed.state.legs[0]!.copy.every((t) => t.done)).toBe(true);
    expect(killed.state.legs[1]!.copy.every((t) => t.done)).toBe(false);

    const resumed = await migrate('resume', id);
    expect(resumed.status, `${resumed.stdout}\n${resumed.stderr}`).toBe(0);
    expect(resumed.stdout).toContain(`${id}: verified`);
    for (const table of ['users', 'posts', 'likes']) {
      const both =
        (await count(port('s0'), `SELECT count(*) AS n FROM ${table}`)) +
        (await count(port('s1'), `SELECT count(*) AS n FROM ${table}`));
      expect(await count(port('spare1'), `SELECT count(*) AS n FROM ${table}`), table).toBe(both);
    }
    // audit_log (home s1 since the move) came along.
    expect(await count(port('spare1'), 'SELECT count(*) AS n FROM audit_log')).toBe(4001);
    expect(await proxyQuery('SELECT count(*)::int AS n, min(inet_server_port()) AS p FROM users')).toEqual([
      { n: 300, p: port('spare1') },
    ]);

    const rolled = await migrate('rollback', id);
    expect(rolled.status, `${rolled.stdout}\n${rolled.stderr}`).toBe(0);
    expect(rolled.stdout).toContain(`${id}: rolled_back`);
    expect(await proxyQuery('SELECT count(*)::int AS n FROM users')).toEqual([{ n: 300 }]);
    expect(
      await proxyQuery('SELECT count(*)::int AS n, min(inet_server_port()) AS p FROM audit_log'),
    ).toEqual([{ n: 4001, p: port('s1') }]);
  }, 300_000);
});
