// Server-side multiplexing (pool.multiplex): many clients' autocommit units pipelined on a few
// server connections. Each client must get exactly what a direct connection gives it: its own
// rows, its own errors (a division by zero stays in its unit), its own prepared statements (named
// statements exist on the connection they run on), and its transactions alone on a connection.
// Two server connections for 24 clients: units must queue behind each other (the pipelined
// counter proves they did).
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiplexCounters } from '../../src/protocol/postgres/mux-lane.js';
import type { ProxyHandle } from '../../src/proxy.js';
import { appLogin, appLoginPostgresJs } from '../support/app-login.js';
import { startMultiplexedProxy } from '../support/multiplexed-proxy.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

const CLIENTS = 24;
const ROUNDS = 20;

let fx: ProxyFixture;
let proxy: ProxyHandle;
let direct: pg.Client;

beforeAll(async () => {
  fx = await startProxyFixture({ shards: 1, replicas: 0, demoData: false });
  // Two connections for 24 clients: on a loaded machine a checkout can wait seconds (53300
  // after the fixture's 3 s failed the test once under load); waiting is what is tested.
  proxy = await startMultiplexedProxy(fx, { size: 2, checkoutTimeoutMs: 60_000 });
  direct = await fx.direct('s0-primary');
  await direct.query('create table mux_items (id int primary key, owner int not null, note text)');
  await direct.query("insert into mux_items select g, g % 7, 'n' || g from generate_series(1, 500) g");
  await direct.query('create table mux_log (client int not null, n int not null)');
});

afterAll(async () => {
  await direct?.end();
  await proxy?.close();
  await fx?.stop();
});

async function pgClient(): Promise<pg.Client> {
  const c = new pg.Client(appLogin(proxy));
  await c.connect();
  return c;
}

async function withClients<T>(n: number, body: (c: pg.Client, i: number) => Promise<T>): Promise<T[]> {
  const clients = await Promise.all(Array.from({ length: n }, () => pgClient()));
  try {
    return await Promise.all(clients.map((c, i) => body(c, i)));
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

const READ = 'select id, owner, note from mux_items where owner = $1 and id <= $2 order by id';

describe('server-side multiplexing (transaction pooling, pool.multiplex)', () => {
  it('concurrent extended-protocol reads return what a direct connection returns, pipelined', async () => {
    const before = multiplexCounters.pipelined;
    const results = await withClients(CLIENTS, async (c, i) => {
      const out = [];
      for (let r = 0; r < ROUNDS; r++) out.push((await c.query(READ, [(i + r) % 7, 100 + r * 10])).rows);
      return out;
    });
    for (let i = 0; i < CLIENTS; i++) {
      for (let r = 0; r < ROUNDS; r++) {
        const expected = (await direct.query(READ, [(i + r) % 7, 100 + r * 10])).rows;
        expect(results[i]![r]).toEqual(expected);
      }
    }
    expect(multiplexCounters.pipelined).toBeGreaterThan(before);
    // Operators see it in /metrics.
    const text = await (await fetch(`http://127.0.0.1:${fx.proxy.admin!.port}/metrics`)).text();
    const pipelined = /^shardgate_pool_multiplexed_units_total (\d+)/m.exec(text);
    expect(Number(pipelined?.[1])).toBe(multiplexCounters.pipelined);
    expect(text).toMatch(/^shardgate_pool_multiplex_lanes_opened_total [1-9]/m);
  });

  it("below the pool's bound no lane opens: a lone client's units each take a connection of their own", async () => {
    const lanes = multiplexCounters.lanesOpened;
    const pipelined = multiplexCounters.pipelined;
    const c = await pgClient();
    try {
      for (let r = 0; r < 10; r++) {
        expect((await c.query(READ, [r % 7, 50])).rows).toEqual((await direct.query(READ, [r % 7, 50])).rows);
      }
    } finally {
      await c.end();
    }
    expect(multiplexCounters.lanesOpened).toBe(lanes);
    expect(multiplexCounters.pipelined).toBe(pipelined);
  });

  it("a division by zero fails only its own client's unit; the units pipelined around it succeed", async () => {
    const before = multiplexCounters.pipelined;
    const outcomes = await withClients(CLIENTS, async (c, i) => {
      const seen: string[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // Every third client divides by zero every other round (extended and simple protocol).
        const failing = i % 3 === 0 && r % 2 === 0;
        const divisor = failing ? 0 : i + 1;
        try {
          if (r % 4 < 2) {
            const row = (await c.query('select 1000 / $1::int as q, $2::int as r', [divisor, r])).rows[0];
            seen.push(`ok ${row.q} ${row.r}`);
          } else {
            const row = (await c.query(`select 1000 / ${divisor} as q, ${r} as r`)).rows[0];
            seen.push(`ok ${row.q} ${row.r}`);
          }
        } catch (err) {
          seen.push(`error ${(err as { code?: string }).code}`);
        }
      }
      return seen;
    });
    for (let i = 0; i < CLIENTS; i++) {
      const expected = Array.from({ length: ROUNDS }, (_, r) =>
        i % 3 === 0 && r % 2 === 0 ? 'error 22012' : `ok ${Math.trunc(1000 / (i + 1))} ${r}`,
      );
      expect(outcomes[i]).toEqual(expected);
    }
    expect(multiplexCounters.pipelined).toBeGreaterThan(before);
  });

  it('a failing statement of a simple-protocol batch ends only that batch', async () => {
    const outcomes = await withClients(CLIENTS, async (c, i) => {
      const seen: string[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        try {
          const sql =
            i % 2 === 0 ? `select ${r} as a; select 1/0; select 2` : `select ${r} as a; select ${i} as b`;
          const res = (await c.query(sql)) as unknown as pg.QueryResult[];
          seen.push(res.map((x) => JSON.stringify(x.rows)).join('|'));
        } catch (err) {
          seen.push(`error ${(err as { code?: string }).code}`);
        }
        // The session is idle and clean afterwards (no aborted transaction left behind).
        seen.push(JSON.stringify((await c.query('select $1::int as z', [r])).rows));
      }
      return seen;
    });
    for (let i = 0; i < CLIENTS; i++) {
      const expected = Array.from({ length: ROUNDS }, (_, r) => [
        i % 2 === 0 ? 'error 22012' : `[{"a":${r}}]|[{"b":${i}}]`,
        `[{"z":${r}}]`,
      ]).flat();
      expect(outcomes[i]).toEqual(expected);
    }
  });

  it('named prepared statements (pg and postgres.js) run on the connection that holds them', async () => {
    const before = multiplexCounters.pipelined;
    const viaPg = withClients(CLIENTS / 2, async (c, i) => {
      const out = [];
      for (let r = 0; r < ROUNDS; r++) {
        // The same names in every client, different texts in some: each client's name means its own.
        const text = i % 2 === 0 ? READ : `${READ} limit 3`;
        const res = await c.query({ name: 'mux_read', text, values: [(i + r) % 7, 200] });
        out.push({ rows: res.rows, text });
      }
      return out;
    });
    const sqls = Array.from({ length: CLIENTS / 2 }, () => postgres(appLoginPostgresJs(proxy)));
    try {
      const viaPostgresJs = Promise.all(
        sqls.map(async (sql, i) => {
          const out = [];
          for (let r = 0; r < ROUNDS; r++) {
            // postgres.js pipelines its queries on one connection and prepares them (named).
            const [a, b] = await Promise.all([
              sql`select id, note from mux_items where id = ${i * 10 + r + 1}`,
              sql`select count(*)::int as n from mux_items where owner = ${(i + r) % 7}`,
            ]);
            out.push([[...a], [...b]]);
          }
          return out;
        }),
      );
      const [pgResults, pjsResults] = await Promise.all([viaPg, viaPostgresJs]);
      for (const [i, rounds] of pgResults.entries()) {
        for (const [r, { rows, text }] of rounds.entries())
          expect(rows).toEqual((await direct.query(text, [(i + r) % 7, 200])).rows);
      }
      for (const [i, rounds] of pjsResults.entries()) {
        for (const [r, [a, b]] of rounds.entries()) {
          const id = i * 10 + r + 1;
          expect(a).toEqual([{ id, note: `n${id}` }]);
          const n = (
            await direct.query('select count(*)::int as n from mux_items where owner = $1', [(i + r) % 7])
          ).rows[0].n;
          expect(b).toEqual([{ n }]);
        }
      }
    } finally {
      await Promise.all(sqls.map((s) => s.end({ timeout: 1 })));
    }
    expect(multiplexCounters.pipelined).toBeGreaterThan(before);
  });

  it('transactions keep their connection while autocommit writes are pipelined around them', async () => {
    await direct.query('truncate mux_log');
    await withClients(CLIENTS, async (c, i) => {
      for (let r = 0; r < ROUNDS / 2; r++) {
        if (i % 4 === 0) {
          // A transaction sees its own uncommitted row, nobody else's; a rollback leaves nothing.
          await c.query('begin');
          await c.query('insert into mux_log values ($1, $2)', [i, r]);
          const mine = (await c.query('select count(*)::int as n from mux_log where client = $1', [i]))
            .rows[0].n;
          expect(mine).toBe(r % 2 === 0 ? Math.floor(r / 2) + 1 : Math.floor(r / 2) + 2);
          await c.query(r % 2 === 0 ? 'commit' : 'rollback');
          const status = (await c.query("select current_setting('transaction_isolation') as t")).rows[0].t;
          expect(status).toBe('read committed');
        } else {
          await c.query('insert into mux_log values ($1, $2)', [i, r]);
        }
      }
    });
    const rows = (
      await direct.query('select client, count(*)::int as n from mux_log group by client order by client')
    ).rows;
    const expected = Array.from({ length: CLIENTS }, (_, i) => ({
      client: i,
      n: i % 4 === 0 ? ROUNDS / 4 : ROUNDS / 2,
    }));
    expect(rows).toEqual(expected);
  });

  it("units share a connection only with clients of the same settings: nobody sees another's SET", async () => {
    const before = multiplexCounters.pipelined;
    const seen = await withClients(CLIENTS, async (c, i) => {
      const mine = i % 3 === 0 ? `client${i}` : '';
      if (mine) await c.query(`set application_name = '${mine}'`);
      const out = new Set<string>();
      for (let r = 0; r < ROUNDS; r++) {
        const row = (await c.query("select current_setting('application_name') as a, $1::int as r", [r]))
          .rows[0];
        out.add(`${row.a}`);
      }
      return [...out];
    });
    for (let i = 0; i < CLIENTS; i++) expect(seen[i]).toEqual([i % 3 === 0 ? `client${i}` : '']);
    expect(multiplexCounters.pipelined).toBeGreaterThan(before);
  });

  it('a pipelined unit never runs inside another client’s transaction', async () => {
    // One client holds a transaction open with a row only it can see; the others read (pipelined)
    // and must never see that row, nor fail with the transaction's state.
    const holder = await pgClient();
    try {
      await holder.query('begin');
      await holder.query("insert into mux_items values (9999, 0, 'uncommitted')");
      const seen = await withClients(CLIENTS, async (c) => {
        let n = 0;
        for (let r = 0; r < ROUNDS; r++)
          n += (await c.query('select count(*)::int as n from mux_items where id = $1', [9999])).rows[0].n;
        return n;
      });
      expect(seen).toEqual(Array(CLIENTS).fill(0));
      expect((await holder.query('select note from mux_items where id = 9999')).rows).toEqual([
        { note: 'uncommitted' },
      ]);
    } finally {
      await holder.query('rollback');
      await holder.end();
    }
  });
});

describe('pool.multiplex with few prepared statements per server connection', () => {
  let small: ProxyHandle;
  beforeAll(async () => {
    // Three statements per connection: the statements of 12 clients evict each other all the time.
    small = await startMultiplexedProxy(fx, { size: 2, checkoutTimeoutMs: 60_000, maxPreparedStatements: 3 });
  });
  afterAll(async () => {
    await small?.close();
  });

  it('named statements evicted from a shared connection run on one of their own, every reply to its own client', async () => {
    const clients = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const c = new pg.Client({
          host: '127.0.0.1',
          port: small.postgres.port,
          user: 'app',
          password: 'app',
          database: 'shardgate',
        });
        await c.connect();
        return c;
      }),
    );
    try {
      const results = await Promise.all(
        clients.map(async (c, i) => {
          const seen: string[] = [];
          for (let r = 0; r < 30; r++) {
            const k = (i + r) % 6;
            // Six texts, each under its own name: the client binds statements it described before.
            const res = await c.query({
              name: `mux_small_${k}`,
              text: `select count(*)::int + ${k} as v, $1::int as tag from mux_items where owner = $2`,
              values: [i * 100 + r, k],
            });
            seen.push(`${res.rows[0].v} ${res.rows[0].tag}`);
          }
          return seen;
        }),
      );
      // postgres.js pipelines its queries: units of one client follow each other in one event-loop turn.
      const sqls = Array.from({ length: 8 }, () =>
        postgres({
          host: '127.0.0.1',
          port: small.postgres.port,
          user: 'app',
          pass: 'app',
          db: 'shardgate',
          max: 1,
        }),
      );
      try {
        const piped = await Promise.all(
          sqls.map((sql, i) =>
            Promise.all(
              Array.from({ length: 40 }, (_, r) => {
                const k = (i + r) % 6;
                return sql.unsafe(
                  `select count(*)::int + ${k} as v, $1::int as tag from mux_items where owner = $2`,
                  [i * 100 + r, k],
                  { prepare: true },
                );
              }),
            ),
          ),
        );
        for (let i = 0; i < 8; i++)
          for (let r = 0; r < 40; r++) expect(piped[i]![r]![0]!.tag).toBe(i * 100 + r);
      } finally {
        await Promise.all(sqls.map((sql) => sql.end()));
      }
      const counts = new Map<number, number>();
      for (let k = 0; k < 6; k++)
        counts.set(
          k,
          (await direct.query('select count(*)::int as n from mux_items where owner = $1', [k])).rows[0].n,
        );
      for (let i = 0; i < 12; i++) {
        const expected = Array.from({ length: 30 }, (_, r) => {
          const k = (i + r) % 6;
          return `${counts.get(k)! + k} ${i * 100 + r}`;
        });
        expect(results[i]).toEqual(expected);
      }
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
