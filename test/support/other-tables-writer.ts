// A session writing the default shard's unsharded tables (app_settings, audit_log) and the
// reference table (trending_topics) through the proxy, with a ledger of what the proxy
// acknowledged, and the check of that ledger read back through the proxy: the tests of splits of
// the default shard, in process (integration) and with the proxy killed mid-copy (e2e).
import type pg from 'pg';
import { expect } from 'vitest';
import { connectionLost } from '../../bench/lib/sql-session.js';
import type { WriterTally } from '../../bench/lib/write-ledger.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What the proxy acknowledged for the unsharded and reference tables. */
export interface OtherLedger extends WriterTally {
  settings: Map<string, string>;
  auditIds: Set<string>;
  topicScores: Map<number, number>;
  /** Values sent since the last acknowledged one whose answer was lost with the connection. */
  unknownSettings: Map<string, string>;
  unknownScores: Map<number, number>;
}

export interface OtherTablesWriter {
  ledger: OtherLedger;
  stop(): Promise<void>;
}

/**
 * Writes app_settings (20 keys upserted), audit_log (inserts, ids from its bigserial) and
 * trending_topics (ids 1-5 updated) in turn until stopped; values count up from `base`.
 * `reconnect`: a lost connection (the proxy killed) notes the write's outcome as unknown and opens
 * a new session until the proxy answers; without it a lost connection is an error.
 */
export function otherTablesWriter(
  connect: () => Promise<pg.Client>,
  base: number,
  options: { reconnect?: boolean } = {},
): OtherTablesWriter {
  const ledger: OtherLedger = {
    settings: new Map(),
    auditIds: new Set(),
    topicScores: new Map(),
    unknownSettings: new Map(),
    unknownScores: new Map(),
    reconnects: 0,
    retries: 0,
    errors: [],
    writes: 0,
  };
  let stopping = false;
  let client: pg.Client | null = null;
  const session = async (): Promise<pg.Client> => {
    while (!client) {
      try {
        client = await connect();
      } catch (err) {
        if (!options.reconnect || stopping) throw err;
        await sleep(50);
      }
    }
    return client;
  };
  const attempt = async (write: (c: pg.Client) => Promise<void>, unknown: () => void) => {
    try {
      await write(await session());
      ledger.writes++;
    } catch (err) {
      const e = err as { code?: string; message: string };
      if (options.reconnect && connectionLost(err)) {
        unknown();
        ledger.reconnects++;
        void client?.end().catch(() => undefined);
        client = null;
      } else if (e.code === '40001') ledger.retries++;
      else ledger.errors.push(e.message);
    }
  };
  const loop = (async () => {
    for (let n = base; !stopping; n++) {
      const k = `key${n % 20}`;
      const v = `v${n}`;
      await attempt(
        async (c) => {
          await c.query(
            'INSERT INTO app_settings (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v',
            [k, v],
          );
          ledger.settings.set(k, v);
          ledger.unknownSettings.delete(k);
        },
        () => ledger.unknownSettings.set(k, v),
      );
      await attempt(
        async (c) => {
          const r = await c.query('INSERT INTO audit_log (note) VALUES ($1) RETURNING id::text AS id', [v]);
          ledger.auditIds.add(r.rows[0].id);
        },
        () => undefined,
      );
      const topic = 1 + (n % 5);
      await attempt(
        async (c) => {
          await c.query('UPDATE trending_topics SET score = $1 WHERE id = $2', [n, topic]);
          ledger.topicScores.set(topic, n);
          ledger.unknownScores.delete(topic);
        },
        () => ledger.unknownScores.set(topic, n),
      );
      await sleep(40);
    }
  })();
  return {
    ledger,
    async stop() {
      stopping = true;
      await loop;
      await (client as pg.Client | null)?.end().catch(() => undefined);
    },
  };
}

/** Every acknowledged write of the ledger, read back through `c`; no audit_log note twice. */
export async function expectOtherLedgerHolds(c: pg.Client, ledger: OtherLedger): Promise<void> {
  expect(ledger.errors).toEqual([]);
  expect(ledger.writes).toBeGreaterThan(30);
  const settings = await c.query('SELECT k, v FROM app_settings');
  const got = new Map(settings.rows.map((r) => [r.k as string, r.v as string]));
  for (const [k, v] of ledger.settings) {
    const lost = ledger.unknownSettings.get(k);
    expect(got.get(k) === lost ? v : got.get(k), k).toBe(v);
  }
  const audit = await c.query('SELECT id::text AS id FROM audit_log');
  const ids = new Set(audit.rows.map((r) => r.id as string));
  const missing = [...ledger.auditIds].filter((id) => !ids.has(id));
  expect(missing).toEqual([]);
  const twice = await c.query('SELECT note FROM audit_log GROUP BY note HAVING count(*) > 1');
  expect(twice.rows).toEqual([]);
  const topics = await c.query('SELECT id::int AS id, score FROM trending_topics');
  const scores = new Map(topics.rows.map((r) => [r.id as number, Number(r.score)]));
  for (const [id, score] of ledger.topicScores) {
    const lost = ledger.unknownScores.get(id);
    expect(scores.get(id) === lost ? score : scores.get(id), `topic ${id}`).toBe(score);
  }
}

/** Each kind of the default shard's tables reads and writes through `c` (after a split, say). */
export async function expectEveryKindServed(c: pg.Client, auditIdAbove: number): Promise<void> {
  await c.query("INSERT INTO app_settings (k, v) VALUES ('after', 'split')");
  const inserted = await c.query("INSERT INTO audit_log (note) VALUES ('after split') RETURNING id");
  expect(Number(inserted.rows[0].id)).toBeGreaterThan(auditIdAbove);
  await c.query('UPDATE trending_topics SET score = -1 WHERE id = 1');
  await c.query('INSERT INTO likes (id, user_id, post_id) VALUES (5000000001, 1, 1)');
  expect((await c.query("SELECT v FROM app_settings WHERE k = 'after'")).rows).toEqual([{ v: 'split' }]);
  const audit = await c.query("SELECT count(*)::int AS n FROM audit_log WHERE note = 'after split'");
  expect(audit.rows).toEqual([{ n: 1 }]);
  expect((await c.query('SELECT score FROM trending_topics WHERE id = 1')).rows).toEqual([{ score: -1 }]);
  const likes = await c.query('SELECT count(*)::int AS n FROM likes WHERE id = 5000000001');
  expect(likes.rows).toEqual([{ n: 1 }]);
}
