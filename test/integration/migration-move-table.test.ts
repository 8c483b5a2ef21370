// Vertical placement, live: `move-table` (through the admin API, as the CLI calls it) moves an
// unsharded table from the default shard to another shard while a client keeps inserting into it
// through the proxy. Every acknowledged insert is there afterwards, routing follows the table's new
// home, its sequence continues, a verification again after the switch passes while the client
// inserts on the new home, and a rollback brings the table (with the rows written since the
// switch) back to its old home.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useMigrationFixture } from '../support/migration-file-fixture.js';
import { type MigrationSummary, postAdmin, sleep } from '../support/migration-helpers.js';

type Summary = MigrationSummary;

const fx = useMigrationFixture(
  { shards: 2, replicas: 0, batchRows: 200, cutoverDeadlineMs: 8_000 },
  async (c) => {
    await c.query('CREATE TABLE audit_log (id bigserial PRIMARY KEY, note text NOT NULL)');
    await c.query("INSERT INTO audit_log (note) SELECT 'seed ' || n FROM generate_series(1, 1000) n");
  },
);

async function waitFor(id: string, phases: string[], timeoutMs: number): Promise<Summary> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = (await (
      await fetch(`${fx.api()}/api/migrations/${id}`, { headers: { authorization: 'Bearer test-token' } })
    ).json()) as Summary;
    if (phases.includes(s.phase) && !(s.phase === 'switched' && s.verify === null)) return s;
    if (Date.now() > deadline) throw new Error(`migration stuck in ${s.phase}: ${s.status}`);
    await sleep(100);
  }
}

/** Inserts into audit_log through the proxy until stopped; the ids the proxy acknowledged. */
function inserter(client: pg.Client, label: string) {
  const acked = new Set<string>();
  const errors: string[] = [];
  let retries = 0;
  let stopping = false;
  const loop = (async () => {
    for (let n = 0; !stopping; n++) {
      try {
        const r = await client.query('INSERT INTO audit_log (note) VALUES ($1) RETURNING id::text AS id', [
          `${label} ${n}`,
        ]);
        acked.add(r.rows[0].id);
      } catch (err) {
        const e = err as { code?: string; message: string };
        if (e.code === '40001') retries++;
        else errors.push(e.message);
      }
      await sleep(10);
    }
  })();
  return {
    acked,
    errors,
    get retries() {
      return retries;
    },
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

async function expectAll(c: pg.Client, acked: Set<string>): Promise<void> {
  const r = await c.query('SELECT id::text AS id FROM audit_log');
  const ids = new Set(r.rows.map((row) => row.id as string));
  expect([...acked].filter((id) => !ids.has(id))).toEqual([]);
}

describe('move-table', () => {
  let id = '';

  it('plans a move of an unsharded table and refuses a sharded one', async () => {
    const dry = await postAdmin(fx.api(), '/api/migrations', { table: 'audit_log', to: 's1', dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.json.plan).toMatchObject({
      operation: 'move',
      sourceShard: 's0',
      move: { table: 'audit_log', to: 's1', before: null },
      tables: [{ name: 'audit_log', kind: 'unsharded', rows: 1000 }],
      targets: [{ shard: 's1' }],
    });
    const sharded = await postAdmin(fx.api(), '/api/migrations', { table: 'likes', to: 's1' });
    expect(sharded.status).toBe(400);
    expect(sharded.json.error ?? JSON.stringify(sharded.json)).toMatch(/only an unsharded table moves/);
    const same = await postAdmin(fx.api(), '/api/migrations', { table: 'audit_log', to: 's0' });
    expect(same.status).toBe(400);
  });

  it('moves audit_log to s1 while a client inserts; routing, rows and the sequence follow', async () => {
    const writer = inserter(await fx.client(), 'during');
    await sleep(300);
    const started = await postAdmin(fx.api(), '/api/migrations', {
      table: 'audit_log',
      to: 's1',
      verify: 'full',
    });
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    id = started.json.migration!.id;
    expect(id).toMatch(/^move-audit_log-/);
    // Writes stop once the switch happened, so verification reads a table at rest.
    await waitFor(id, ['switched', 'verifying', 'verified', 'aborted'], 240_000);
    await sleep(200);
    await writer.stop();
    const done = await waitFor(id, ['verified', 'switched', 'aborted'], 240_000);
    expect(done.phase, done.status).toBe('verified');
    expect(done.operation).toBe('move');
    expect(done.copy.rows).toBeGreaterThanOrEqual(1000);
    expect(writer.errors).toEqual([]);
    expect(fx.proxy.topology.currentConfig.tables.audit_log?.home).toBe('s1');

    const c = await fx.client();
    await expectAll(c, writer.acked);
    const next = await c.query("INSERT INTO audit_log (note) VALUES ('after move') RETURNING id::text AS id");
    expect(BigInt(next.rows[0].id)).toBeGreaterThan(BigInt(Math.max(...[...writer.acked].map(Number))));
    // The proxy reads it from s1's primary (s0 keeps a copy through the reverse capture).
    const served = await c.query('SELECT inet_server_port() AS p FROM audit_log WHERE id = $1', [
      next.rows[0].id,
    ]);
    const s1Port = fx.cluster.shards.find((s) => s.name === 's1')!.primary.port;
    expect(served.rows).toEqual([{ p: s1Port }]);
  }, 300_000);

  it('verifies again after the switch while the client inserts on the new home', async () => {
    const writer = inserter(await fx.client(), 'during verify');
    try {
      await sleep(300);
      const before = writer.acked.size;
      const verifications = () => fx.proxy.migrations!.get(id).history.filter((h) => h.phase === 'verifying');
      const earlier = verifications().length;
      // The phase is `verifying` once the answer is back, so the wait below cannot see the old `verified`.
      const r = await postAdmin(fx.api(), `/api/migrations/${id}/verify`);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(verifications().length).toBe(earlier + 1);
      const done = await waitFor(id, ['verified', 'switched'], 240_000);
      expect(done.phase, done.status).toBe('verified');
      expect(done.verify!.mismatches).toEqual([]);
      // Writes were acknowledged while the verification ran, not only before it.
      expect(writer.acked.size).toBeGreaterThan(before);
    } finally {
      await writer.stop();
    }
    expect(writer.errors).toEqual([]);
    await expectAll(await fx.client(), writer.acked);
  }, 300_000);

  it('rolls back: the table and the rows written since the switch return to s0', async () => {
    const c = await fx.client();
    const writer = inserter(c, 'before rollback');
    await sleep(500);
    const r = await postAdmin(fx.api(), `/api/migrations/${id}/rollback`);
    await sleep(200);
    await writer.stop();
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.migration!.phase).toBe('rolled_back');
    expect(fx.proxy.topology.currentConfig.tables.audit_log).toBeUndefined();
    expect(writer.errors).toEqual([]);
    await expectAll(await fx.client(), writer.acked);
    const s0 = await fx.direct('s0-primary');
    const back = await s0.query("SELECT count(*)::int AS n FROM audit_log WHERE note = 'after move'");
    expect(back.rows[0].n).toBe(1);
  }, 120_000);
});
