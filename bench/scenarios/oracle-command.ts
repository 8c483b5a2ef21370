// `shardgate bench oracle`: the differential oracle at any size. The hand-written corpus and N
// generated statements (seeded) run against one unsharded PostgreSQL database and through
// shardgate on each topology asked for; prints matched, refused by reason and every mismatch.
// Exit code 1 when any statement mismatched.
import type { Command } from 'commander';
import { intOption } from '../lib/cli-args.js';
import { formatTally, refusedCount, type Tally } from '../oracle/harness.js';
import { runPgOracle } from '../oracle/pg-oracle-run.js';
import { startPgOracleCluster } from '../oracle/pg-topology.js';

export interface OracleOptions {
  shards: number[];
  replicas: number;
  users: number;
  statements: number;
  seed: number;
  corpus: boolean;
  details: boolean;
  log(line: string): void;
}

function shardList(value: string): number[] {
  const out = value.split(',').map((v) => Number(v.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1 || n > 8))
    throw new Error('--shards: a list like 2,3 (1 to 8)');
  return out;
}

function line(title: string, t: Tally): string {
  const pct = t.total === 0 ? 0 : (100 * refusedCount(t)) / t.total;
  return `${title}: ${t.total} statements, ${t.matched} matched, ${refusedCount(t)} refused (${pct.toFixed(1)} %), ${t.mismatches.length} mismatched, ${t.known.length} known failures`;
}

export async function runOracleBench(options: OracleOptions): Promise<{ ok: boolean }> {
  const max = Math.max(...options.shards);
  options.log(`starting ${max} PostgreSQL shards x (primary + ${options.replicas} replicas) ...`);
  const servers = await startPgOracleCluster({ shards: max, replicas: options.replicas });
  let ok = true;
  const summary: string[] = [];
  try {
    for (const shards of options.shards) {
      const topology = await servers.topology(shards, options.users);
      const started = Date.now();
      const result = await runPgOracle(topology, {
        corpus: options.corpus,
        generated: options.statements,
        seed: options.seed,
        users: options.users,
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      for (const [title, t] of [
        [`postgres ${shards} shards, corpus`, result.corpus],
        [`postgres ${shards} shards, generated (seed ${options.seed})`, result.generated],
      ] as const) {
        if (t.total === 0) continue;
        options.log(formatTally(title, t, { details: options.details }));
        summary.push(line(title, t));
        if (t.mismatches.length > 0) ok = false;
      }
      options.log(`(${shards} shards ran in ${seconds} s)`);
      await topology.stop();
    }
  } finally {
    await servers.stop();
  }
  options.log('summary:');
  for (const s of summary) options.log(`  ${s}`);
  return { ok };
}

export function registerOracleCommand(parent: Command): void {
  parent
    .command('oracle')
    .description(
      'differential SQL oracle: the corpus and seeded generated statements through shardgate against one unsharded PostgreSQL database',
    )
    .option(
      '--statements <n>',
      'generated statements per topology',
      intOption('--statements', 0, 10_000_000),
      5_000,
    )
    .option('--seed <n>', 'generator seed', intOption('--seed', 0, 2 ** 31 - 1), 1)
    .option('--shards <list>', 'topologies to run, shard counts (e.g. 2,3)', '2,3')
    .option('--replicas <n>', 'streaming replicas per shard', intOption('--replicas', 0, 3), 1)
    .option('--users <n>', 'demo users loaded (about 14 rows each)', intOption('--users', 5, 100_000), 30)
    .option('--no-corpus', 'generated statements only')
    .option('--details', 'print both answers of every known failure too')
    .action(async (opts: Record<string, unknown>) => {
      const { ok } = await runOracleBench({
        shards: shardList(String(opts.shards)),
        replicas: opts.replicas as number,
        users: opts.users as number,
        statements: opts.statements as number,
        seed: opts.seed as number,
        corpus: opts.corpus !== false,
        details: opts.details === true,
        log: (l) => process.stdout.write(`${l}\n`),
      });
      process.exitCode = ok ? 0 : 1;
    });
}
