// The PostgreSQL proxy core through real drivers: node-postgres (simple, extended, named
// prepared statements, transactions, cancel), postgres.js (pipelining, prepared), and session
// state isolation in transaction pooling.
import pg from 'pg';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture({ overrides: { pool: { size: 3 } } });

/** Polls every server of the fixture until `sql` is an active statement on one of them. */
async function untilRunningSomewhere(sql: string): Promise<void> {
  const servers = fx.cluster.shards.flatMap((s) => [s.primary, ...s.replicas]);
  const clients = await Promise.all(servers.map((s) => fx.direct(s.name)));
  for (let i = 0; i < 600; i++) {
    for (const d of clients) {
      const r = await d.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query = $1",
        [sql],
      );
      if (r.rows[0]?.n > 0) return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${sql} never started on any server`);
}

describe('node-postgres through shardgate', () => {
  it('runs simple and extended queries', async () => {
    const c = await fx.client();
    const simple = await c.query('SELECT 1 AS one');
    expect(simple.rows).toEqual([{ one: 1 }]);
    const extended = await c.query('SELECT $1::int + 1 AS two, $2::text AS t', [1, 'x']);
    expect(extended.rows).toEqual([{ two: 2, t: 'x' }]);
  });

  it('reads a user row from its shard by key', async () => {
    const c = await fx.client();
    const r = await c.query('SELECT id, name FROM users WHERE user_id = $1', [7]);
    expect(r.rows).toEqual([{ id: '7', name: 'user7' }]);
  });

  it('keeps named prepared statements working across server connections', async () => {
    const clients = await Promise.all([fx.client(), fx.client(), fx.client(), fx.client()]);
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        clients.map(async (c, i) => {
          const r = await c.query({
            name: 'get_user',
            text: 'SELECT name FROM users WHERE user_id = $1',
            values: [i + 1],
          });
          expect(r.rows[0]?.name).toBe(`user${i + 1}`);
        }),
      );
    }
  });

  it('recovers from an error in the extended protocol and continues', async () => {
    const c = await fx.client();
    await expect(c.query('SELECT * FROM no_such_table WHERE user_id = $1', [1])).rejects.toMatchObject({
      code: '42P01',
    });
    const r = await c.query('SELECT $1::int AS v', [5]);
    expect(r.rows[0]?.v).toBe(5);
  });

  it('commits and rolls back transactions on the owning shard', async () => {
    const c = await fx.client();
    await c.query('BEGIN');
    await c.query('INSERT INTO posts (id, user_id, title) VALUES ($1, $2, $3)', [900001, 11, 'in txn']);
    await c.query('ROLLBACK');
    const none = await c.query('SELECT count(*)::int AS n FROM posts WHERE user_id = 11 AND id = 900001');
    expect(none.rows[0]?.n).toBe(0);
    await c.query('BEGIN');
    await c.query('INSERT INTO posts (id, user_id, title) VALUES ($1, $2, $3)', [900002, 11, 'committed']);
    await c.query('COMMIT');
    const one = await c.query('SELECT title FROM posts WHERE user_id = 11 AND id = 900002');
    expect(one.rows).toEqual([{ title: 'committed' }]);
  });

  it('answers an empty transaction without a server', async () => {
    const c = await fx.client();
    await c.query('BEGIN');
    await c.query('COMMIT');
    const r = await c.query('SELECT 2 AS v');
    expect(r.rows[0]?.v).toBe(2);
  });

  it('cancels a running query on the right backend', async () => {
    const c = await fx.client();
    const started = Date.now();
    const slow = c.query('SELECT pg_sleep(20)');
    // Cancel only once the statement runs on a server: a cancel that arrives first is a no-op (as
    // on PostgreSQL), and a fixed sleep is not enough on a loaded machine.
    await untilRunningSomewhere('SELECT pg_sleep(20)');
    // node-postgres cancels through a new connection carrying the BackendKeyData we issued.
    const canceller = new pg.Client({
      host: '127.0.0.1',
      port: fx.port,
      user: 'app',
      password: 'app',
      database: 'shardgate',
    });
    const activeQuery = (c as unknown as { activeQuery: unknown }).activeQuery;
    (canceller as unknown as { cancel(client: pg.Client, query: unknown): void }).cancel(c, activeQuery);
    await expect(slow).rejects.toMatchObject({ code: '57014' });
    expect(Date.now() - started).toBeLessThan(15_000);
    const after = await c.query('SELECT 3 AS v');
    expect(after.rows[0]?.v).toBe(3);
  });
});

describe('postgres.js through shardgate', () => {
  it('pipelines queries and runs prepared statements', async () => {
    const sql = postgres(fx.url(), { max: 2, prepare: true, onnotice: () => undefined });
    try {
      const results = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) => sql`SELECT ${i}::int AS i, name FROM users WHERE user_id = ${(i % 10) + 1}`,
        ),
      );
      results.forEach((rows, i) => {
        expect(rows[0]?.i).toBe(i);
        expect(rows[0]?.name).toBe(`user${(i % 10) + 1}`);
      });
      const [row] = await sql.begin(async (tx) => {
        await tx`INSERT INTO likes (id, user_id, post_id) VALUES (${900100}, ${3}, ${1})`;
        return tx`SELECT count(*)::int AS n FROM likes WHERE user_id = ${3} AND id = ${900100}`;
      });
      expect(row?.n).toBe(1);
    } finally {
      await sql.end();
    }
  });
});

describe('session state in transaction pooling', () => {
  it('never leaks SET from one client to another and replays it for its owner', async () => {
    const a = await fx.client();
    const b = await fx.client();
    await a.query("SET statement_timeout = '12345ms'");
    await a.query('SET search_path TO public, pg_catalog');
    for (let i = 0; i < 6; i++) {
      const ra = await a.query('SHOW statement_timeout');
      expect(ra.rows[0]?.statement_timeout).toBe('12345ms');
      const rb = await b.query('SHOW statement_timeout');
      expect(rb.rows[0]?.statement_timeout).toBe('0');
    }
    await a.query('RESET statement_timeout');
    const reset = await a.query('SHOW statement_timeout');
    expect(reset.rows[0]?.statement_timeout).toBe('0');
  });

  it('pins a session that creates a temp table and never shows it to others', async () => {
    const a = await fx.client();
    const b = await fx.client();
    await a.query('CREATE TEMP TABLE scratch (x int)');
    await a.query('INSERT INTO scratch VALUES (1)');
    for (let i = 0; i < 4; i++) {
      const r = await a.query('SELECT count(*)::int AS n FROM scratch');
      expect(r.rows[0]?.n).toBe(1);
      await expect(b.query('SELECT count(*) FROM scratch')).rejects.toMatchObject({ code: '42P01' });
    }
  });

  it('rolls back the backend when a client vanishes mid-transaction', async () => {
    const a = await fx.client();
    await a.query('BEGIN');
    await a.query('INSERT INTO balances (id, user_id, balance) VALUES (900200, 21, 5)');
    // Drop the socket without COMMIT or Terminate.
    (a as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const c = await fx.client();
    const r = await c.query('SELECT count(*)::int AS n FROM balances WHERE user_id = 21 AND id = 900200');
    expect(r.rows[0]?.n).toBe(0);
    // The row lock is gone too: the same key can be written at once.
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES (900200, 21, 6)');
  });
});
