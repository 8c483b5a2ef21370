// `shardgate bench split`: options of the cutover load test (see split.ts).
import path from 'node:path';
import type { Command } from 'commander';
import { intFlag } from '../lib/cli-args.js';
import { repoRoot } from '../lib/shardgate-process.js';

export function registerSplitCommand(parent: Command): void {
  parent
    .command('split')
    .description(
      'split, merge or move-table live under a paced write load; checks every acknowledged write against a ledger and reports the cutover block',
    )
    .option(
      '--operation <op>',
      'split (s0 in two) | merge (s0 and s1 into spare1) | move (the unsharded audit_log from s0 to s1)',
      'split',
    )
    .option(
      '--protocol <p>',
      'postgres (PostgreSQL shards, writers on the PostgreSQL port) | mysql (MariaDB shards, mysql2 writers on the MySQL port)',
      'postgres',
    )
    .addOption(intFlag('--rate <n>', 'target writes per second over all writers', 1, 20_000, 1_000))
    .addOption(intFlag('--writers <n>', 'writer connections', 1, 200, 16))
    .addOption(intFlag('--readers <n>', 'reader connections (one level after another)', 0, 100, 4))
    .addOption(intFlag('--users <n>', 'demo users loaded before the split', 10, 1_000_000, 2_000))
    .addOption(intFlag('--warmup <s>', 'seconds of load before the split starts', 0, 600, 3))
    .addOption(intFlag('--cooldown <s>', 'seconds of load after it settles', 0, 600, 2))
    .addOption(intFlag('--deadline <ms>', 'cutover block deadline', 10, 60_000, 2_000))
    .addOption(
      intFlag(
        '--instances <n>',
        'shardgate instances on a 3-member etcd (the fenced cutover); writers spread over them',
        1,
        8,
        1,
      ),
    )
    .addOption(intFlag('--copy-rate <n>', 'copy throttle, rows per second', 1, 10_000_000, 50_000))
    .option('--verify <mode>', 'verification after the switch: full or sample:N', 'full')
    .option('--quick', 'a few seconds: 200 writes/s, 4 writers, 200 users (the test suite runs this)')
    .option('--json <file>', 'also write the JSON result here')
    .option('--results <dir>', 'results directory', path.join(repoRoot(), 'bench', 'results'))
    .action(async (opts: Record<string, unknown>) => {
      const quick = opts.quick === true;
      const operation = String(opts.operation);
      if (operation !== 'split' && operation !== 'merge' && operation !== 'move')
        throw new Error(`--operation is split, merge or move, not "${operation}"`);
      const protocol = String(opts.protocol);
      if (protocol !== 'postgres' && protocol !== 'mysql')
        throw new Error(`--protocol is postgres or mysql, not "${protocol}"`);
      const { runSplitBench } = await import('./split.js');
      const { ok } = await runSplitBench({
        operation,
        protocol,
        writesPerSecond: quick ? 200 : (opts.rate as number),
        writers: quick ? 4 : (opts.writers as number),
        readers: quick ? 2 : (opts.readers as number),
        users: quick ? 200 : (opts.users as number),
        warmupSeconds: quick ? 1 : (opts.warmup as number),
        cooldownSeconds: quick ? 1 : (opts.cooldown as number),
        cutoverDeadlineMs: opts.deadline as number,
        instances: opts.instances as number,
        rowsPerSecond: opts.copyRate as number,
        verify: parseVerify(String(opts.verify)),
        resultsDir: opts.results as string,
        ...(opts.json ? { jsonPath: opts.json as string } : {}),
        log: (line) => process.stdout.write(`${line}\n`),
      });
      process.exitCode = ok ? 0 : 1;
    });
}

function parseVerify(text: string): 'full' | { sample: number } {
  if (text === 'full') return 'full';
  const m = /^sample:(\d+)$/.exec(text);
  if (!m || Number(m[1]) < 1) throw new Error(`--verify is full or sample:N (N >= 1), not "${text}"`);
  return { sample: Number(m[1]) };
}
