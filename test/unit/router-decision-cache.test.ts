// The routing decision cache (src/router/decision-cache.ts): a cached decision is the decision the
// planner would make now, for every statement, session state and topology version; a topology
// change (rules, a switch, a rollback: every one rebuilds the topology and bumps its version)
// is never answered from an older decision. No sockets: the topology's pools never connect.
import { afterAll, describe, expect, it } from 'vitest';
import { RuntimeTopology } from '../../src/backend/pg-topology.js';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import { defaultSessionContext, type RoutingSession } from '../../src/router/inputs.js';
import { renderPlan } from '../../src/router/plan.js';
import { type PlannedStatement, Router } from '../../src/router/router.js';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { routingSession } from '../support/topology-fixture.js';

const shards = [0, 1].map((i) => ({
  name: `s${i}`,
  primary: { name: `s${i}-primary`, host: '127.0.0.1', port: 15432 + i * 2 },
  replicas: [{ name: `s${i}-replica1`, host: '127.0.0.1', port: 15433 + i * 2 }],
}));
const configWith = (overrides?: Record<string, unknown>): ShardgateConfig =>
  configForLocalShards(shards, { database: 'shardgate', ...(overrides ? { overrides } : {}) });

const topologies: RuntimeTopology[] = [];
afterAll(async () => {
  await Promise.all(topologies.map((t) => t.close()));
});

async function routers(config = configWith()) {
  const topology = new RuntimeTopology(config);
  topologies.push(topology);
  const analyzer = await QueryAnalyzer.create({ cacheSize: 1000 });
  return {
    topology,
    analyzer,
    cached: new Router(analyzer, topology),
    fresh: new Router(analyzer, topology, {}, { entries: 0, bytes: 0 }),
  };
}

function session(over: Partial<RoutingSession> = {}): RoutingSession {
  return { ...routingSession(), ...over };
}

const bind = (...values: Array<string | null>) => ({
  values: values.map((v) => (v === null ? null : Buffer.from(v))),
  formats: values.map(() => 0),
  types: values.map(() => 0),
});

/** What a client's statement runs as: the plan (reasons included), its facts and undo note. */
function shape(planned: PlannedStatement[]): string {
  return JSON.stringify(
    planned.map((p) => ({
      // Snowflake ids differ per call: their count is the decision.
      plan: JSON.parse(renderPlan(p.plan), (k, v) => (k === 'fillIds' ? v.values.length : v)),
      kind: p.facts.kind,
      fingerprint: p.fingerprint,
      compensation: p.compensation,
      sql: p.sql,
    })),
  );
}

const STATEMENTS: Array<{ sql: string; values?: Array<string | null> }> = [
  { sql: 'SELECT abalance FROM pgbench_accounts WHERE aid = $1', values: ['7'] },
  { sql: 'SELECT id, title FROM posts WHERE user_id = $1', values: ['1'] },
  { sql: 'SELECT id, title FROM posts WHERE user_id = $1', values: ['2'] },
  { sql: 'SELECT id, title FROM posts WHERE user_id = $1', values: ['1000003'] },
  { sql: 'SELECT id, title FROM posts WHERE user_id = $1', values: [null] },
  { sql: 'SELECT id, title FROM posts WHERE user_id = 5' },
  { sql: 'SELECT id, title FROM posts WHERE user_id = 6' },
  // Same fingerprint as the two above (comments are not part of it): its hint must count.
  { sql: '/* shardgate: consistency=strong */ SELECT id, title FROM posts WHERE user_id = 7' },
  { sql: 'SELECT * FROM users WHERE user_id = $1', values: ['11'] },
  { sql: 'SELECT * FROM likes WHERE user_id = $1', values: ['12'] },
  { sql: 'SELECT * FROM temp_data WHERE user_id = $1', values: ['13'] },
  { sql: 'SELECT * FROM posts', values: [] },
  { sql: 'SELECT * FROM trending_topics', values: [] },
  { sql: 'UPDATE posts SET title = $2 WHERE user_id = $1', values: ['3', 'x'] },
  { sql: 'UPDATE posts SET user_id = $2 WHERE user_id = $1', values: ['3', '4'] },
  { sql: 'UPDATE posts SET user_id = $2 WHERE user_id = $1', values: ['3', '3'] },
  { sql: 'DELETE FROM posts WHERE user_id = $1', values: ['9'] },
  { sql: 'INSERT INTO posts (user_id, title) VALUES ($1, $2)', values: ['9', 't'] },
  { sql: 'SELECT * FROM posts WHERE user_id IN ($1, $2)', values: ['1', '2'] },
  { sql: 'SELECT * FROM posts WHERE user_id = ANY($1)', values: ['{1,2}'] },
  { sql: '/* shardgate: consistency=strong */ SELECT * FROM posts WHERE user_id = $1', values: ['1'] },
  {
    sql: 'SELECT * FROM posts p JOIN comments c ON c.user_id = p.user_id WHERE p.user_id = $1',
    values: ['1'],
  },
  { sql: 'SELECT * FROM posts WHERE user_id = $1 FOR UPDATE', values: ['1'] },
  { sql: 'SELECT * FROM site_notes WHERE id = $1', values: ['1'] },
  { sql: 'BEGIN', values: [] },
  { sql: 'SET search_path = public', values: [] },
];

const SESSIONS: Array<[string, RoutingSession]> = [
  ['autocommit', session()],
  ['a write position on s0', session({ lastWritePositions: new Map([['s0', '0/3000000']]) })],
  [
    'read-write transaction on s0',
    session({ inTransaction: true, transactionShard: 's0', transactionServer: 's0-primary' }),
  ],
  ['read-only transaction', session({ inTransaction: true, transactionReadOnly: true })],
  ['consistency strong', session({ context: { ...defaultSessionContext(), consistency: 'strong' } })],
  ['vip', session({ context: { ...defaultSessionContext(), vip: true } })],
  [
    'role=replica',
    session({ context: { ...defaultSessionContext(), role: 'replica', overridesAllowed: true } }),
  ],
  ['shard=s1', session({ context: { ...defaultSessionContext(), shard: 's1', overridesAllowed: true } })],
];

/** Every statement in every session, three times each, through both routers (cached first). */
function compareAll(r: { cached: Router; fresh: Router }): void {
  for (const round of [1, 2, 3]) {
    for (const [name, s] of SESSIONS) {
      for (const st of STATEMENTS) {
        const run = (router: Router) =>
          st.values === undefined
            ? router.planSimple(st.sql, s)
            : router.planExtended(st.sql, s, bind(...st.values));
        const ours = (() => {
          try {
            return shape(run(r.cached));
          } catch (err) {
            return `error ${(err as Error).message}`;
          }
        })();
        const theirs = (() => {
          try {
            return shape(run(r.fresh));
          } catch (err) {
            return `error ${(err as Error).message}`;
          }
        })();
        expect(ours, `${name}, round ${round}: ${st.sql} ${JSON.stringify(st.values)}`).toBe(theirs);
      }
    }
  }
}

describe('routing decision cache', () => {
  it('answers every statement and session as the planner does, and hits on repeats', async () => {
    const r = await routers();
    compareAll(r);
    expect(r.cached.decisions.stats.hits).toBeGreaterThan(50);
  });

  it('skips the analysis of a repeated text without literals', async () => {
    const r = await routers();
    const sql = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
    r.cached.planExtended(sql, session(), bind('1'));
    const before = r.analyzer.stats;
    for (let i = 0; i < 10; i++) r.cached.planExtended(sql, session(), bind(String(i)));
    expect(r.analyzer.stats.hits + r.analyzer.stats.misses).toBe(before.hits + before.misses);
    expect(r.cached.decisions.stats.hits).toBe(10);
  });

  it('follows live replica state on a hit (a replica out of rotation, a write position)', async () => {
    const r = await routers();
    const sql = 'SELECT id, title FROM posts WHERE user_id = $1';
    const target = (s: RoutingSession) => r.cached.planExtended(sql, s, bind('1'))[0]!.plan;
    const first = target(session());
    expect(first).toMatchObject({ type: 'single', target: { role: 'replica' } });
    const shard = r.topology
      .view()
      .shards.find((x) => x.name === (first as { target: { shard: string } }).target.shard)!;
    shard.replicas[0]!.healthy = false;
    expect(shape(r.cached.planExtended(sql, session(), bind('1')))).toBe(
      shape(r.fresh.planExtended(sql, session(), bind('1'))),
    );
    expect(target(session())).toMatchObject({ target: { role: 'primary' } });
    shard.replicas[0]!.healthy = true;
    const written = session({ lastWritePositions: new Map([[shard.name, '0/5000000']]) });
    expect(target(written)).toMatchObject({ target: { role: 'replica', wait: { position: '0/5000000' } } });
    expect(r.cached.decisions.stats.hits).toBeGreaterThan(0);
  });

  it('never answers from a decision made before a topology change (the version bump)', async () => {
    const r = await routers();
    const s = session();
    const notes = 'SELECT * FROM site_notes WHERE id = $1';
    const posts = 'UPDATE posts SET title = $2 WHERE user_id = $1';
    const shardOf = (sql: string, values: string[]) => {
      const plan = r.cached.planExtended(sql, s, bind(...values))[0]!.plan;
      return plan.type === 'single' ? plan.target.shard : plan.type;
    };
    for (let i = 0; i < 3; i++) expect(shardOf(notes, ['1'])).toBe('s0');
    const before = shardOf(posts, ['1', 't']);
    expect(shardOf(posts, ['1', 't'])).toBe(before);
    expect(r.cached.decisions.stats.hits).toBeGreaterThanOrEqual(3);
    // A rule change: site_notes moves home, and the two shards swap their key ranges.
    const moved = configWith({ tables: { site_notes: { home: 's1' } } });
    moved.shards = moved.shards.map((sh, i) => ({ ...sh, keyRange: moved.shards[1 - i]!.keyRange }));
    r.topology.rebuild(moved);
    expect(shardOf(notes, ['1'])).toBe('s1');
    expect(shardOf(posts, ['1', 't'])).toBe(before === 's0' ? 's1' : 's0');
    compareAll(r);
  });

  it('keys decisions by the session: consistency, transaction state, forced shard', async () => {
    const r = await routers();
    const sql = 'SELECT id, title FROM posts WHERE user_id = $1';
    const plan = (s: RoutingSession) => r.cached.planExtended(sql, s, bind('1'))[0]!.plan;
    expect(plan(session())).toMatchObject({ target: { role: 'replica' } });
    expect(plan(session())).toMatchObject({ target: { role: 'replica' } });
    const strong = session({ context: { ...defaultSessionContext(), consistency: 'strong' } });
    expect(plan(strong)).toMatchObject({ level: 'strong', target: { role: 'primary' } });
    expect(plan(strong)).toMatchObject({ level: 'strong', target: { role: 'primary' } });
    const shard = (plan(session()) as { target: { shard: string } }).target.shard;
    const other = shard === 's0' ? 's1' : 's0';
    const inOther = session({
      inTransaction: true,
      transactionShard: other,
      transactionServer: `${other}-primary`,
    });
    expect(plan(inOther)).toMatchObject({ type: 'error', code: 'CROSS_SHARD_TRANSACTION' });
    const inSame = session({
      inTransaction: true,
      transactionShard: shard,
      transactionServer: `${shard}-primary`,
    });
    expect(plan(inSame)).toMatchObject({ type: 'single', target: { server: `${shard}-primary` } });
    expect(plan(inSame)).toMatchObject({ type: 'single', target: { server: `${shard}-primary` } });
    expect(plan(inOther)).toMatchObject({ type: 'error', code: 'CROSS_SHARD_TRANSACTION' });
  });

  it('stays within its byte bound', async () => {
    const topology = new RuntimeTopology(configWith());
    topologies.push(topology);
    const analyzer = await QueryAnalyzer.create({ cacheSize: 100_000 });
    const router = new Router(analyzer, topology, {}, { entries: 100_000, bytes: 64 * 1024 });
    for (let i = 0; i < 3000; i++) {
      router.planExtended(`SELECT c${i}, title FROM posts WHERE user_id = $1`, session(), bind('1'));
    }
    expect(router.decisions.stats.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(router.decisions.stats.size).toBeGreaterThan(10);
    expect(router.decisions.stats.size).toBeLessThan(3000);
  });
});
