// Two-phase commit for users that reach the servers as their own role (not the service identity),
// with a service role that is not a superuser (as the demo's shardgate_ops), on real servers that
// check every role's password. The user's role has no right on the decision log, and PostgreSQL
// lets only the role that prepared a transaction (or a superuser) finish it: the decision goes
// through the log's own connection, and recovery finishes a transaction as its owner.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transferBalance } from '../../bench/lib/balance-transfer.js';
import { makeScramVerifier } from '../../src/auth/scram.js';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { type ProxyFixture, startRolesFixture } from '../support/proxy-fixture.js';
import { type StartedProcess, startShardgateProcess } from '../support/start-process.js';
import { waitFor as pollUntil } from '../support/wait-for.js';

const FIRST_ID = 9_100_000;
const START_BALANCE = 1000;
const OPS_ROLE = 'twopc_ops';
const OPS_PASSWORD = 'ops-pw';
// One verifier on every server: the config holds no secret shardgate could log in as `reader` with.
const readerVerifier = makeScramVerifier('reader-pw');

interface Account {
  id: number;
  user: number;
  server: string;
}

let fx: ProxyFixture;
let s0: string;
let s1: string;
const accounts: Account[] = [];
/** Every child proxy started: stopped at the end, whatever a test left running. */
const procs: StartedProcess[] = [];

async function onServer<T extends pg.QueryResultRow>(server: string, sql: string, params: unknown[] = []) {
  const c = await fx.direct(server);
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

async function balanceOn(a: Account): Promise<number> {
  const rows = await onServer<{ b: number }>(
    a.server,
    'SELECT balance::int AS b FROM balances WHERE id = $1',
    [a.id],
  );
  return rows[0]!.b;
}

/** Owners of the sg2pc_* transactions still prepared on both servers. */
async function preparedOwners(): Promise<string[]> {
  const owners: string[] = [];
  for (const server of [s0, s1])
    for (const r of await onServer<{ owner: string }>(
      server,
      "SELECT owner FROM pg_prepared_xacts WHERE gid LIKE 'sg2pc%'",
    ))
      owners.push(r.owner);
  return owners;
}

async function metric(p: StartedProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${p.adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** These tests poll every 100 ms: their checks query the servers. */
const waitFor = (what: string, check: () => Promise<boolean>, ms = 30_000) => pollUntil(what, check, ms, 100);

/** `shardgate start` as the non-superuser service role, armed to SIGKILL itself at `failpoint`. */
async function start(failpoint?: string): Promise<StartedProcess> {
  const config: ShardgateConfig = {
    ...fx.config,
    backend: { ...fx.config.backend, user: OPS_ROLE, password: OPS_PASSWORD },
    transactions: {
      crossShard: 'two_phase',
      lockTimeoutMs: 500,
      recoveryIntervalMs: 300,
      recoveryMinAgeMs: 300,
    },
  };
  const p = await startShardgateProcess(config, 60_000, failpoint ? { SHARDGATE_FAILPOINT: failpoint } : {});
  procs.push(p);
  return p;
}

async function connect(p: StartedProcess, user: string, password: string): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: p.postgresPort, user, password, database: 'shardgate' });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** A transfer by `user` through a proxy that kills itself right after writing the commit decision. */
async function crashAfterDecision(user: string, password: string, from: Account, to: Account): Promise<void> {
  const p = await start('twopc-after-decision');
  const c = await connect(p, user, password);
  await expect(transferBalance(c, from, to, 7)).rejects.toThrow();
  await waitFor('the proxy to die', async () => p.exited() !== null);
  expect(p.exited()).toBe('SIGKILL');
  await c.end().catch(() => undefined);
}

/**
 * A transfer of 7 by `user` left prepared on both shards by crashAfterDecision, both prepared by
 * `user` (the default shard too: it could not carry the decision), then a shardgate started after
 * it; with the balances the transfer commits to.
 */
async function leftPrepared(
  user: string,
  password: string,
  from: Account,
  to: Account,
): Promise<{ p: StartedProcess; committed: number[] }> {
  const before = [await balanceOn(from), await balanceOn(to)];
  await crashAfterDecision(user, password, from, to);
  expect(await preparedOwners()).toEqual([user, user]);
  return { p: await start(), committed: [before[0]! - 7, before[1]! + 7] };
}

beforeAll(async () => {
  fx = await startRolesFixture({
    users: [
      // Its own role, with a clear-text password shardgate can log in with.
      { name: 'app', password: 'app-pw' },
      // Its own role, only a SCRAM verifier in the config: only a client's login proves it.
      { name: 'reader', password: readerVerifier },
    ],
    // The in-process proxy never spans shards here; its recovery runs once, at start.
    transactions: { recoveryIntervalMs: 3_600_000 },
  });
  s0 = fx.cluster.shards[0]!.primary.name;
  s1 = fx.cluster.shards[1]!.primary.name;
  for (const [n, server] of [s0, s1].entries()) {
    const users = await onServer<{ user_id: string }>(
      server,
      'SELECT DISTINCT user_id FROM users ORDER BY user_id LIMIT 3',
    );
    for (const [i, r] of users.entries()) {
      const account = { id: FIRST_ID + 10 * n + i, user: Number(r.user_id), server };
      accounts.push(account);
      await onServer(server, 'INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, $3)', [
        account.id,
        account.user,
        START_BALANCE,
      ]);
    }
    // The service role of the child proxies: no superuser, may create the decision log's schema.
    const c = await fx.direct(server);
    await c.query(`ALTER ROLE reader PASSWORD '${readerVerifier}'`);
    await c.query(`CREATE ROLE ${OPS_ROLE} LOGIN NOSUPERUSER PASSWORD '${OPS_PASSWORD}'`);
    await c.query(`GRANT pg_monitor TO ${OPS_ROLE}`);
    await c.query(`GRANT CREATE ON DATABASE shardgate TO ${OPS_ROLE}`);
    await c.end();
  }
}, 240_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await fx?.stop();
});

describe('two-phase commit of a user with its own role, the service role not a superuser', () => {
  it('commits a transfer with the default shard on both shards (the decision written as the service role)', async () => {
    const [a, b] = [accounts[0]!, accounts[3]!];
    expect([a.server, b.server]).toEqual([s0, s1]);
    const p = await start();
    const c = await connect(p, 'app', 'app-pw');
    expect((await c.query('SELECT current_user AS u')).rows[0].u).toBe('app');
    await transferBalance(c, a, b, 5);
    await c.end();
    expect([await balanceOn(a), await balanceOn(b)]).toEqual([START_BALANCE - 5, START_BALANCE + 5]);
    expect(await preparedOwners()).toEqual([]);
    expect(await metric(p, 'shardgate_2pc_commits_total')).toBe(1);
    // The log is the service role's; the user's role was given nothing on it.
    const owner = await onServer<{ owner: string; app: boolean }>(
      s0,
      `SELECT tableowner AS owner, has_table_privilege('app', 'shardgate.twopc_decisions', 'INSERT') AS app
         FROM pg_tables WHERE schemaname = 'shardgate' AND tablename = 'twopc_decisions'`,
    );
    expect(owner).toEqual([{ owner: OPS_ROLE, app: false }]);
    await p.stop();
  }, 120_000);

  it('killed after the decision: recovery commits both shards as the role that prepared them', async () => {
    const [a, b] = [accounts[1]!, accounts[4]!];
    const { p, committed } = await leftPrepared('app', 'app-pw', a, b);
    await waitFor('recovery', async () => (await preparedOwners()).length === 0);
    expect([await balanceOn(a), await balanceOn(b)]).toEqual(committed);
    expect(await metric(p, 'shardgate_2pc_recovered_total')).toBe(2);
    await p.stop();
  }, 120_000);

  it('a role shardgate has no secret for stays in doubt, and is finished once a client of it logs in', async () => {
    const [a, b] = [accounts[2]!, accounts[5]!];
    const { p, committed } = await leftPrepared('reader', 'reader-pw', a, b);
    await waitFor('the in-doubt gauge', async () => (await metric(p, 'shardgate_2pc_in_doubt')) === 1);
    expect(p.output()).toMatch(/in-doubt transaction not resolved/);
    expect(p.output()).toMatch(/prepared by role \\"reader\\".*is not a superuser/);
    expect(await preparedOwners()).toEqual(['reader', 'reader']);
    // A client of that role logs in and reads both shards: its pools let recovery act as reader.
    const c = await connect(p, 'reader', 'reader-pw');
    expect(Number((await c.query('SELECT count(*) AS n FROM users')).rows[0].n)).toBe(50);
    await c.end();
    await waitFor('recovery', async () => (await preparedOwners()).length === 0);
    expect([await balanceOn(a), await balanceOn(b)]).toEqual(committed);
    await waitFor('nothing in doubt', async () => (await metric(p, 'shardgate_2pc_in_doubt')) === 0);
    await p.stop();
  }, 120_000);
});
