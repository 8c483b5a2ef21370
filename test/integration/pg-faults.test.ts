import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgHealth, watchPgClose as watchClose } from '../support/fault-helpers.js';
import type { ProxyFixture } from '../support/proxy-fixture.js';
import { useProxyFixture } from '../support/use-fixture.js';
import { waitFor as pollUntil } from '../support/wait-for.js';

/** These tests wait up to 20 s unless told otherwise. */
const waitFor = (what: string, check: () => boolean | Promise<boolean>, ms = 20_000) =>
  pollUntil(what, check, ms);
const health = (fx: ProxyFixture, server: string) => pgHealth(fx.proxy, server);

/**
 * Terminates the backend running a statement that starts with `prefix` on one of `servers`, as soon
 * as one runs, and says which. Found and terminated in one statement: a statement that ends between
 * a lookup and a later kill would leave the kill to an idle pooled connection (nothing to retry).
 */
async function terminateRunning(
  fx: ProxyFixture,
  servers: string[],
  prefix: string,
): Promise<{ server: string; pid: number }> {
  const clients = await Promise.all(servers.map((s) => fx.direct(s)));
  let killed: { server: string; pid: number } | null = null;
  try {
    await waitFor(`a backend running "${prefix}"`, async () => {
      for (const [i, c] of clients.entries()) {
        const r = await c.query<{ pid: number; terminated: boolean }>(
          `SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
           WHERE state = 'active' AND starts_with(query, $1) AND pid <> pg_backend_pid()`,
          [prefix],
        );
        const hit = r.rows.find((row) => row.terminated);
        if (hit) {
          killed = { server: servers[i]!, pid: hit.pid };
          return true;
        }
      }
      return false;
    });
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  return killed!;
}

/** Waits until each replica has replayed what its primary wrote before the tests start. */
async function replayed(fx: ProxyFixture, replicas: string[]): Promise<void> {
  for (const replica of replicas) await fx.cluster.waitForReplay(replica);
}

async function terminate(fx: ProxyFixture, server: string, pid: number): Promise<void> {
  const c = await fx.direct(server);
  await c.query('SELECT pg_terminate_backend($1)', [pid]);
  await c.end();
}

describe('transaction pooling: client sessions outlive server connections', () => {
  const fx = useProxyFixture(
    { shards: 1, replicas: 2, overrides: { observability: { alerts: { evaluateIntervalMs: 100 } } } },
    180_000,
  );
  beforeAll(() => replayed(fx, ['s0-replica1', 's0-replica2']), 60_000);

  it('fails only the transaction when its server connection is terminated; ROLLBACK works', async () => {
    const c = await fx.client();
    const watch = watchClose(c);
    await c.query('BEGIN');
    const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await terminate(fx, 's0-primary', rows[0]!.pid);
    await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '40001', severity: 'ERROR' });
    await expect(c.query('SELECT 2')).rejects.toMatchObject({ code: '25P02' });
    await c.query('ROLLBACK');
    const after = await c.query<{ one: number }>('SELECT 1 AS one');
    expect(after.rows[0]!.one).toBe(1);
    expect(watch.closed).toBe(false);
    await c.end();
  });

  it('reports a write lost mid-statement as outcome unknown (08007); the session goes on', async () => {
    const c = await fx.client();
    const watch = watchClose(c);
    // pg_sleep per row keeps the statement running until it is cut off (void casts to '').
    const sql = "UPDATE likes SET post_id = post_id WHERE user_id = 1 AND pg_sleep(30)::text = ''";
    const running = c.query(sql).then(
      () => null,
      (err: { code?: string; severity?: string }) => err,
    );
    await terminateRunning(fx, ['s0-primary'], 'UPDATE likes SET post_id');
    expect(await running).toMatchObject({ code: '08007', severity: 'ERROR' });
    const after = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM likes WHERE user_id = 1');
    expect(after.rows[0]!.n).toBeGreaterThan(0);
    expect(watch.closed).toBe(false);
    await c.end();
  });

  it.each([
    ['simple', null],
    ['extended', [3]],
  ])(
    'runs a read whose server connection died on another server; the client sees only its rows (%s protocol)',
    async (_form, values) => {
      const expected = await fx.cluster.query<{ n: number }>(
        's0-primary',
        'SELECT count(*)::int AS n FROM likes WHERE user_id = 3',
      );
      const c = await fx.client();
      const watch = watchClose(c);
      const retriesBefore = fx.proxy.topology.faultCounters.readRetries;
      const shunsBefore = new Map(
        ['s0-replica1', 's0-replica2'].map((s) => [s, health(fx, s).shunsTotal] as const),
      );
      const running = values
        ? c.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM likes WHERE user_id = $1 AND pg_sleep(0.5)::text = ''",
            values,
          )
        : c.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM likes WHERE user_id = 3 AND pg_sleep(0.5)::text = ''",
          );
      const backend = await terminateRunning(
        fx,
        ['s0-replica1', 's0-replica2'],
        'SELECT count(*)::int AS n FROM likes',
      );
      const result = await running;
      expect(result.rows[0]!.n).toBe(expected[0]!.n);
      expect(fx.proxy.topology.faultCounters.readRetries).toBeGreaterThan(retriesBefore);
      // The server was shunned when its connection died, and its probes bring it back.
      expect(health(fx, backend.server).shunsTotal).toBeGreaterThan(shunsBefore.get(backend.server)!);
      await waitFor(`${backend.server} back in rotation`, () => !health(fx, backend.server).shunned);
      expect(watch.closed).toBe(false);
      await c.end();
    },
  );

  it('kill -9 of a replica under an eventual-read load: no session closed, no client error', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => fx.client()));
    const watches = clients.map(watchClose);
    const errors: string[] = [];
    let done = 0;
    let killed = false;
    let afterKill = 0;
    const loops = clients.map(async (c, i) => {
      let n = 0;
      // Every client keeps reading until it has done 25 reads after the replica was shunned.
      for (;;) {
        try {
          await c.query('SELECT count(*)::int AS n FROM likes WHERE user_id = $1', [((i * 7 + n) % 50) + 1]);
        } catch (err) {
          errors.push(err instanceof Error ? err.message : String(err));
        }
        n++;
        done++;
        if (killed && health(fx, 's0-replica1').shunned) {
          afterKill++;
          if (afterKill >= 25 * clients.length) return;
        }
        if (errors.length > 20) return;
      }
    });
    await waitFor('reads flowing through the proxy', () => done >= 200);
    const shunsBefore = health(fx, 's0-replica1').shunsTotal;
    await fx.cluster.killServer('s0-replica1');
    killed = true;
    await Promise.all(loops);
    expect(errors).toEqual([]);
    expect(watches.filter((w) => w.closed)).toHaveLength(0);
    const h = health(fx, 's0-replica1');
    expect(h.shunned).toBe(true);
    expect(h.shunsTotal).toBe(shunsBefore + 1);
    const shards = (await (
      await fetch(`http://127.0.0.1:${fx.proxy.admin!.port}/api/shards`)
    ).json()) as Array<{
      servers: Array<{ name: string; shunned: boolean; healthy: boolean }>;
    }>;
    const row = shards[0]!.servers.find((s) => s.name === 's0-replica1')!;
    expect(row).toMatchObject({ shunned: true, healthy: false });
    const admin = `http://127.0.0.1:${fx.proxy.admin!.port}`;
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toContain(
      'shardgate_server_shunned{shard="s0",server="s0-replica1",role="replica",protocol="postgres"} 1',
    );
    expect(metrics).toMatch(/shardgate_read_retries_total \d+/);
    await waitFor('the ServerShunned alert', async () => {
      const alerts = (await (await fetch(`${admin}/api/alerts`)).json()) as {
        firing: Array<{ alertname: string; shard: string }>;
      };
      return alerts.firing.some((a) => a.alertname === 'ServerShunned' && a.shard === 's0');
    });
    // Back after good probes once it runs again.
    await fx.cluster.restartServer('s0-replica1');
    await waitFor('s0-replica1 back in rotation', () => health(fx, 's0-replica1').healthy, 60_000);
    expect(health(fx, 's0-replica1').shunned).toBe(false);
    await Promise.all(clients.map((c) => c.end()));
  }, 120_000);
});

describe('session pooling: the client sees what a direct client would', () => {
  const fx = useProxyFixture({ shards: 1, replicas: 0, overrides: { pool: { mode: 'session' } } }, 180_000);

  it('closes the client whose server connection was terminated, as the server would', async () => {
    const c = await fx.client();
    const watch = watchClose(c);
    const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await terminate(fx, 's0-primary', rows[0]!.pid);
    await waitFor('the client session to close', () => watch.closed);
    // Other sessions are unaffected; the server is back in rotation after its probes.
    await waitFor('s0-primary back in rotation', () => health(fx, 's0-primary').healthy);
    const other = await fx.client();
    const r = await other.query<{ one: number }>('SELECT 1 AS one');
    expect(r.rows[0]!.one).toBe(1);
  });
});

describe('a primary that dies, a replica promoted, the old primary back', () => {
  const fx = useProxyFixture({ shards: 1, replicas: 1 }, 180_000);
  beforeAll(() => replayed(fx, ['s0-replica1']), 60_000);

  it('keeps eventual, weak and bounded reads going; fails writes retryably; follows pg_promote(); fences the old primary', async () => {
    const levels = ['eventual', 'weak', 'bounded'];
    const readers = await Promise.all(
      levels.map((l) => fx.client({ options: `-c shardgate.consistency=${l}` })),
    );
    const watches = readers.map(watchClose);
    const writer = await fx.client();
    const writerWatch = watchClose(writer);
    const errors: string[] = [];
    let phase: 'before' | 'killed' | 'done' = 'before';
    // Per level: each of eventual, weak and bounded must keep reading, however slow the machine.
    const readsAfterKill = levels.map(() => 0);
    let reads = 0;
    const loops = readers.map(async (c, i) => {
      for (let n = 0; phase !== 'done'; n++) {
        try {
          await c.query('SELECT count(*)::int AS n FROM likes WHERE user_id = $1', [((i * 13 + n) % 50) + 1]);
          reads++;
          if (phase === 'killed') readsAfterKill[i]!++;
        } catch (err) {
          errors.push(`${levels[i]}: ${err instanceof Error ? err.message : String(err)}`);
          if (errors.length > 20) return;
        }
      }
    });
    await waitFor('reads flowing', () => reads >= 100 || errors.length > 0);
    await fx.cluster.killServer('s0-primary');
    phase = 'killed';
    await waitFor('s0-primary shunned', () => health(fx, 's0-primary').shunned);
    // A write in the gap: a clear, retryable error; the session stays.
    await expect(writer.query('INSERT INTO likes (id, user_id) VALUES (900001, 1)')).rejects.toMatchObject({
      code: '08006',
      severity: 'ERROR',
    });
    await waitFor(
      '100 reads of each level after the kill',
      () => readsAfterKill.every((n) => n >= 100) || errors.length > 0,
      60_000,
    );
    // The operator promotes the replica; shardgate notices from the server and follows.
    const replica = await fx.direct('s0-replica1');
    await replica.query('SELECT pg_promote(true, 30)');
    await waitFor(
      's0-replica1 as the primary of s0',
      () => fx.proxy.topology.shardList()[0]!.primary.name === 's0-replica1',
    );
    await writer.query('INSERT INTO likes (id, user_id) VALUES (900002, 1)');
    const landed = await replica.query('SELECT count(*)::int AS n FROM likes WHERE id = 900002');
    expect(landed.rows[0]!.n).toBe(1);
    phase = 'done';
    await Promise.all(loops);
    expect(errors).toEqual([]);
    // The old primary comes back still claiming to be one: fenced, never written to.
    await fx.cluster.restartServer('s0-primary');
    await waitFor('s0-primary fenced', () => {
      const h = health(fx, 's0-primary');
      return (
        h.role === 'replica' && h.shunned && /primary/.test(h.shunReason ?? '') && h.consecutiveFailures === 0
      );
    });
    await writer.query('INSERT INTO likes (id, user_id) VALUES (900003, 1)');
    const old = await fx.direct('s0-primary');
    const stray = await old.query('SELECT count(*)::int AS n FROM likes WHERE id IN (900002, 900003)');
    expect(stray.rows[0]!.n).toBe(0);
    const onNew = await replica.query('SELECT count(*)::int AS n FROM likes WHERE id = 900003');
    expect(onNew.rows[0]!.n).toBe(1);
    expect([...watches, writerWatch].filter((w) => w.closed)).toHaveLength(0);
  }, 120_000);
});

describe('a server that stops answering (SIGSTOP)', () => {
  const fx = useProxyFixture({ shards: 1, replicas: 2 }, 180_000);
  beforeAll(() => replayed(fx, ['s0-replica1', 's0-replica2']), 60_000);
  // Registered after the fixture, so it runs before the fixture stops (after-hooks run in reverse).
  afterAll(() => fx.cluster?.signalServer('s0-replica1', 'SIGCONT'));

  it('is shunned when its probe times out; reads go elsewhere; it returns after SIGCONT', async () => {
    const c = await fx.client();
    const watch = watchClose(c);
    await fx.cluster.freezeServer('s0-replica1');
    await waitFor('s0-replica1 shunned', () => health(fx, 's0-replica1').shunned);
    const expected = await fx.cluster.query<{ n: number }>(
      's0-primary',
      'SELECT count(*)::int AS n FROM likes WHERE user_id = 5',
    );
    for (let i = 0; i < 50; i++) {
      const r = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM likes WHERE user_id = 5');
      expect(r.rows[0]!.n).toBe(expected[0]!.n);
    }
    fx.cluster.signalServer('s0-replica1', 'SIGCONT');
    await waitFor('s0-replica1 back in rotation', () => health(fx, 's0-replica1').healthy);
    expect(watch.closed).toBe(false);
  }, 60_000);
});
