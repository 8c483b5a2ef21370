// `shardgate bench oracle`: the differential oracle at any size. The hand-written corpus and N
// generated statements (seeded) run against one unsharded database (PostgreSQL, or MariaDB with
// --protocol mysql) and through shardgate on each topology asked for; prints matched, refused by
// reason and every mismatch. --seeds runs a sweep of seeds on the same servers. Exit code 1
// when any statement mismatched.
import type { Command } from 'commander';
import { intFlag } from '../lib/cli-args.js';
import { formatTally, refusedCount, type Tally } from '../oracle/harness.js';
import type { OracleRunOptions, OracleRunResult } from '../oracle/oracle-run.js';
import { DEFAULT_STATEMENT_TIMEOUT_MS } from '../oracle/timed-runner.js';

export type OracleProtocol = 'postgres' | 'mysql';

export interface OracleOptions {
  protocols: OracleProtocol[];
  shards: number[];
  replicas: number;
  users: number;
  statements: number;
  /** Seeds run one after the other on each topology (a sweep). */
  seeds: number[];
  corpus: boolean;
  details: boolean;
  /** Per-statement time limit on both sides, milliseconds. */
  statementTimeoutMs: number;
  log(line: string): void;
}

function shardList(value: string): number[] {
  const out = value.split(',').map((v) => Number(v.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1 || n > 8))
    throw new Error('--shards: a list like 2,3 (1 to 8)');
  return out;
}

function seedList(value: string): number[] {
  const range = /^(\d+)\.\.(\d+)$/.exec(value.trim());
  const out = range
    ? Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i)
    : value.split(',').map((v) => Number(v.trim()));
  if (out.length === 0 || out.length > 1000 || out.some((n) => !Number.isInteger(n) || n < 0 || n >= 2 ** 31))
    throw new Error('--seeds: a list like 1,2,3 or a range like 1..20 (at most 1000 seeds)');
  return out;
}

function protocolList(value: string): OracleProtocol[] {
  if (value === 'both') return ['postgres', 'mysql'];
  if (value === 'postgres' || value === 'mysql') return [value];
  throw new Error('--protocol: postgres, mysql or both');
}

/** Servers for one protocol: topologies on demand, each run through the dialect's oracle. */
interface ProtocolServers {
  run(shards: number, users: number, options: OracleRunOptions): Promise<OracleRunResult>;
  stop(): Promise<void>;
}

async function startServers(
  protocol: OracleProtocol,
  shards: number,
  replicas: number,
): Promise<ProtocolServers> {
  // Loaded here, not at the top: `shardgate bench --help` should not load the launchers and proxy.
  if (protocol === 'postgres') {
    const { startPgOracleCluster } = await import('../oracle/pg-topology.js');
    const { runPgOracle } = await import('../oracle/pg-oracle-run.js');
    return protocolServers(await startPgOracleCluster({ shards, replicas }), runPgOracle);
  }
  const { startMysqlOracleCluster } = await import('../oracle/mysql-topology.js');
  const { runMysqlOracle } = await import('../oracle/mysql-oracle-run.js');
  return protocolServers(await startMysqlOracleCluster({ shards, replicas }), runMysqlOracle);
}

/** Each run on a fresh topology of the cluster, stopped after the dialect's oracle is done. */
function protocolServers<T extends { stop(): Promise<void> }>(
  servers: { topology(shards: number, users: number): Promise<T>; stop(): Promise<void> },
  runOracle: (topology: T, options: OracleRunOptions) => Promise<OracleRunResult>,
): ProtocolServers {
  return {
    async run(n, users, options) {
      const topology = await servers.topology(n, users);
      try {
        return await runOracle(topology, options);
      } finally {
        await topology.stop();
      }
    },
    stop: () => servers.stop(),
  };
}

function line(title: string, t: Tally): string {
  const pct = t.total === 0 ? 0 : (100 * refusedCount(t)) / t.total;
  return `${title}: ${t.total} statements, ${t.matched} matched, ${refusedCount(t)} refused (${pct.toFixed(1)} %), ${t.mismatches.length} mismatched, ${t.known.length} known failures, ${t.oracleTimeouts.length} oracle timeouts`;
}

export async function runOracleBench(options: OracleOptions): Promise<{ ok: boolean }> {
  const max = Math.max(...options.shards);
  let ok = true;
  const summary: string[] = [];
  for (const protocol of options.protocols) {
    const engine = protocol === 'postgres' ? 'PostgreSQL' : 'MariaDB';
    options.log(`starting ${max} ${engine} shards x (primary + ${options.replicas} replicas) ...`);
    const servers = await startServers(protocol, max, options.replicas);
    try {
      for (const shards of options.shards) {
        for (const [i, seed] of options.seeds.entries()) {
          // A fresh topology per seed: the generated writes of one seed never meet the next's.
          const started = Date.now();
          const result = await servers.run(shards, options.users, {
            corpus: options.corpus && i === 0,
            generated: options.statements,
            seed,
            users: options.users,
            statementTimeoutMs: options.statementTimeoutMs,
          });
          const seconds = ((Date.now() - started) / 1000).toFixed(1);
          for (const [title, t] of [
            [`${protocol} ${shards} shards, corpus`, result.corpus],
            [`${protocol} ${shards} shards, generated (seed ${seed})`, result.generated],
          ] as const) {
            if (t.total === 0) continue;
            options.log(formatTally(title, t, { details: options.details }));
            summary.push(line(title, t));
            if (t.mismatches.length > 0) ok = false;
          }
          options.log(`(${protocol}, ${shards} shards, seed ${seed} ran in ${seconds} s)`);
        }
      }
    } finally {
      await servers.stop();
    }
  }
  options.log('summary:');
  for (const s of summary) options.log(`  ${s}`);
  return { ok };
}

export function registerOracleCommand(parent: Command): void {
  parent
    .command('oracle')
    .description(
      'differential SQL oracle: the corpus and seeded generated statements through shardgate against one unsharded PostgreSQL (or MariaDB) database',
    )
    .option('--protocol <p>', 'postgres, mysql or both', 'postgres')
    .addOption(intFlag('--statements <n>', 'generated statements per topology', 0, 10_000_000, 5_000))
    .addOption(intFlag('--seed <n>', 'generator seed', 0, 2 ** 31 - 1, 1))
    .option('--seeds <list>', 'a sweep of seeds instead of --seed: 1,2,3 or 1..20')
    .option('--shards <list>', 'topologies to run, shard counts (e.g. 2,3)', '2,3')
    .addOption(intFlag('--replicas <n>', 'streaming replicas per shard', 0, 3, 1))
    .addOption(intFlag('--users <n>', 'demo users loaded (about 14 rows each)', 5, 100_000, 30))
    .option('--no-corpus', 'generated statements only')
    .option('--details', 'print both answers of every known failure too')
    .addOption(
      intFlag(
        '--statement-timeout <ms>',
        'per-statement time limit on both sides; past it on the oracle the statement is counted as an oracle timeout, through shardgate only as a mismatch',
        100,
        3_600_000,
        DEFAULT_STATEMENT_TIMEOUT_MS,
      ),
    )
    .action(async (opts: Record<string, unknown>) => {
      const { ok } = await runOracleBench({
        protocols: protocolList(String(opts.protocol)),
        shards: shardList(String(opts.shards)),
        replicas: opts.replicas as number,
        users: opts.users as number,
        statements: opts.statements as number,
        seeds: opts.seeds === undefined ? [opts.seed as number] : seedList(String(opts.seeds)),
        corpus: opts.corpus !== false,
        details: opts.details === true,
        statementTimeoutMs: opts.statementTimeout as number,
        log: (l) => process.stdout.write(`${l}\n`),
      });
      process.exitCode = ok ? 0 : 1;
    });
}
