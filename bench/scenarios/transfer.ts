// `shardgate bench transfer`: money transfers through shardgate on the demo topology (2 shards x
// primary + replica). Three figures, each from interleaved runs so all sides see the same load:
//   1. cost at one client: a transfer between users on two shards (two-phase commit) against one
//      between two users of the same shard (one transaction, today's path); ratio of medians;
//   2. the same-shard transfer with cross-shard transactions on (two_phase) against a second
//      shardgate with them off (refuse): what the feature costs transactions that do not use it;
//   3. throughput at N clients for a few seconds each, cross-shard then same-shard, p50/p99;
// and the invariant: the sum of the balances is unchanged and nothing is left prepared.
import type { Command } from 'commander';
import pg from 'pg';
import { type Account, transferBalance } from '../lib/balance-transfer.js';
import { intFlag } from '../lib/cli-args.js';
import { type DemoTopology, startDemoTopology, startShardgateOn } from '../lib/demo-topology.js';
import { LatencyRecorder } from '../lib/hdr.js';
import { printJsonReport, sharedOption, withDefaults } from '../lib/scenario-options.js';
import type { PgEndpoint } from '../lib/target.js';

interface TransferOptions {
  ops: number;
  clients: number;
  seconds: number;
  accounts: number;
}

const TRANSFER_DEFAULTS: TransferOptions = { ops: 300, clients: 8, seconds: 10, accounts: 50 };

const FIRST_ID = 8_000_000_000;

async function transfer(c: pg.Client, from: Account, to: Account, amount: number): Promise<boolean> {
  try {
    await transferBalance(c, from, to, amount);
    return true;
  } catch (err) {
    // Conflicts (deadlock, lock timeout across shards, aborted commit) are retried by applications.
    if (/^(40|55P03)/.test((err as { code?: string }).code ?? '')) return false;
    throw err;
  }
}

/** `accounts` users on each shard, each with a balance row of 1000. */
async function openAccounts(
  topology: DemoTopology,
  endpoint: PgEndpoint,
  perShard: number,
): Promise<Account[][]> {
  const byShard = new Map<string, Account[]>();
  for (let user = 1_000_000; [...byShard.values()].reduce((n, a) => n + a.length, 0) < perShard * 2; user++) {
    const shard = topology.ownerOf('balances', user);
    const list = byShard.get(shard) ?? [];
    if (list.length >= perShard) continue;
    list.push({ id: FIRST_ID + user, user });
    byShard.set(shard, list);
  }
  const c = new pg.Client(endpoint);
  c.on('error', () => undefined);
  await c.connect();
  for (const list of byShard.values())
    for (const a of list)
      await c.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, 1000)', [a.id, a.user]);
  await c.end();
  return [...byShard.values()];
}

async function sumAndPrepared(
  endpoint: PgEndpoint,
  topology: DemoTopology,
): Promise<{ sum: string; prepared: number }> {
  const c = new pg.Client(endpoint);
  c.on('error', () => undefined);
  await c.connect();
  const r = await c.query('SELECT sum(balance) AS sum FROM balances WHERE id >= $1', [FIRST_ID]);
  await c.end();
  let prepared = 0;
  for (const shard of topology.cluster.shards) {
    const d = new pg.Client({
      host: shard.primary.host,
      port: shard.primary.port,
      user: 'postgres',
      database: 'shardgate',
    });
    d.on('error', () => undefined);
    await d.connect();
    prepared += Number((await d.query('SELECT count(*)::int AS n FROM pg_prepared_xacts')).rows[0].n);
    await d.end();
  }
  return { sum: r.rows[0].sum, prepared };
}

function ms(s: ReturnType<LatencyRecorder['summary']>) {
  return { count: s.count, p50: s.p50Ms, p99: s.p99Ms, mean: s.meanMs };
}

async function throughput(
  endpoint: PgEndpoint,
  clients: number,
  seconds: number,
  pick: (random: () => number) => [Account, Account],
): Promise<{ committed: number; conflicts: number; perSecond: number; latencyMs: ReturnType<typeof ms> }> {
  const recorder = new LatencyRecorder();
  let committed = 0;
  let conflicts = 0;
  const until = Date.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      let seed = 17 + i;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const c = new pg.Client(endpoint);
      c.on('error', () => undefined);
      await c.connect();
      while (Date.now() < until) {
        const [from, to] = pick(random);
        const t0 = performance.now();
        if (await transfer(c, from, to, 1 + Math.floor(random() * 9))) {
          recorder.recordMs(performance.now() - t0);
          committed++;
        } else conflicts++;
      }
      await c.end();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { committed, conflicts, perSecond: committed / elapsed, latencyMs: ms(recorder.summary()) };
}

export async function runTransferScenario(
  o: TransferOptions,
  tell: (line: string) => void,
): Promise<unknown> {
  tell('starting 2 shards x (primary + replica) and loading the demo data ...');
  const topology = await startDemoTopology({ shards: 2, replicas: 1, demoUsers: 20 });
  try {
    const on = await startShardgateOn(topology, {
      workers: 1,
      extra: { transactions: { crossShard: 'two_phase' } },
    });
    const off = await startShardgateOn(topology, {
      workers: 1,
      extra: { transactions: { crossShard: 'refuse' } },
    });
    try {
      return await measure(o, topology, on.endpoint, off.endpoint, tell);
    } catch (err) {
      // A shardgate that died says why in its output.
      for (const [name, p] of [
        ['two_phase', on],
        ['refuse', off],
      ] as const)
        if (p.process.exited()) tell(`shardgate (${name}) exited:\n${p.process.output()}`);
      throw err;
    } finally {
      await on.stop();
      await off.stop();
    }
  } finally {
    await topology.stop();
  }
}

async function measure(
  o: TransferOptions,
  topology: DemoTopology,
  onEndpoint: PgEndpoint,
  offEndpoint: PgEndpoint,
  tell: (line: string) => void,
): Promise<unknown> {
  const on = { endpoint: onEndpoint };
  const off = { endpoint: offEndpoint };
  {
    const [a, b] = await openAccounts(topology, on.endpoint, o.accounts);
    const before = await sumAndPrepared(on.endpoint, topology);
    const cOn = new pg.Client(on.endpoint);
    const cOff = new pg.Client(off.endpoint);
    await cOn.connect();
    await cOff.connect();
    tell(`${o.ops} transfers of each kind at one client, interleaved ...`);
    const cross = new LatencyRecorder();
    const same = new LatencyRecorder();
    const sameOff = new LatencyRecorder();
    for (let i = 0; i < o.ops; i++) {
      const x = a![i % a!.length]!;
      const y = b![i % b!.length]!;
      const x2 = a![(i + 1) % a!.length]!;
      await cross.time(() => transfer(cOn, x, y, 1));
      await same.time(() => transfer(cOn, x, x2, 1));
      await sameOff.time(() => transfer(cOff, x2, x, 1));
    }
    await cOn.end();
    await cOff.end();
    const crossS = cross.summary();
    const sameS = same.summary();
    const sameOffS = sameOff.summary();
    tell(`throughput at ${o.clients} clients, ${o.seconds} s cross-shard then ${o.seconds} s same-shard ...`);
    const all = [...a!, ...b!];
    const crossRun = await throughput(on.endpoint, o.clients, o.seconds, (r) => [
      a![Math.floor(r() * a!.length)]!,
      b![Math.floor(r() * b!.length)]!,
    ]);
    const sameRun = await throughput(on.endpoint, o.clients, o.seconds, (r) => {
      const list = r() < 0.5 ? a! : b!;
      const i = Math.floor(r() * list.length);
      return [list[i]!, list[(i + 1) % list.length]!];
    });
    const after = await sumAndPrepared(on.endpoint, topology);
    return {
      scenario: 'transfer',
      options: o,
      accounts: all.length,
      oneClient: {
        crossShardMs: ms(crossS),
        sameShardMs: ms(sameS),
        crossOverSameP50: crossS.p50Ms / sameS.p50Ms,
        sameShardWithCrossShardOffMs: ms(sameOffS),
        sameShardOnOverOffP50: sameS.p50Ms / sameOffS.p50Ms,
      },
      clients: { crossShard: crossRun, sameShard: sameRun },
      invariant: { sumBefore: before.sum, sumAfter: after.sum, preparedLeft: after.prepared },
    };
  }
}

export function registerTransferCommand(program: Command): void {
  program
    .command('transfer')
    .description(
      'money transfers: cross-shard (two-phase commit) against same-shard, at one client and at N clients',
    )
    .addOption(intFlag('--ops <n>', 'transfers of each kind at one client (default 300)', 1, 1_000_000))
    .addOption(sharedOption.clients('clients of the throughput runs (default 8)'))
    .addOption(intFlag('--seconds <n>', 'seconds of each throughput run (default 10)', 1, 3600))
    .addOption(intFlag('--accounts <n>', 'accounts per shard (default 50)', 2, 100_000))
    .action(async (raw: Partial<TransferOptions>) => {
      const options = withDefaults(TRANSFER_DEFAULTS, raw);
      await printJsonReport((say) => runTransferScenario(options, say));
    });
}
