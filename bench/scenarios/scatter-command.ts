// `shardgate bench scatter`: what an ordered scatter of N rows over S shards costs through
// shardgate against the shards answering directly (see scatter-cost.ts). Loopback, bounded.
import type { Command } from 'commander';
import { intFlag } from '../lib/cli-args.js';
import { loadSnapshot } from '../lib/machine.js';

export function registerScatterCommand(parent: Command): void {
  parent
    .command('scatter')
    .description(
      'scatter cost: one ordered query over --rows rows on --shards PostgreSQL shards through shardgate, against the shards answering their parts directly (A/B alternated, medians)',
    )
    .addOption(intFlag('--shards <n>', 'shards', 2, 8, 4))
    .addOption(intFlag('--rows <n>', 'rows in the table', 1_000, 2_000_000, 100_000))
    .addOption(intFlag('--repeats <n>', 'measured repeats', 1, 200, 15))
    .addOption(intFlag('--warmup <n>', 'unmeasured repeats first', 0, 50, 3))
    .option('--json', 'print the result as JSON')
    .action(async (opts: Record<string, unknown>) => {
      const { runScatterCost } = await import('./scatter-cost.js');
      const log = (l: string) => process.stderr.write(`${l}\n`);
      const before = loadSnapshot();
      const r = await runScatterCost({
        shards: opts.shards as number,
        rows: opts.rows as number,
        repeats: opts.repeats as number,
        warmup: opts.warmup as number,
        log,
      });
      const after = loadSnapshot();
      if (opts.json === true) {
        process.stdout.write(`${JSON.stringify({ ...r, load: [before, after] }, null, 2)}\n`);
        return;
      }
      const out = [
        `query: ${r.query}`,
        `rows per shard: ${Object.entries(r.rowsPerShard)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ')}`,
        `median through shardgate:            ${r.shardgateMs.toFixed(1)} ms`,
        `median shards at once, directly:     ${r.directAllMs.toFixed(1)} ms  (ratio ${r.ratioToDirectAll.toFixed(2)}x)`,
        `median slowest shard alone:          ${r.slowestAloneMs.toFixed(1)} ms  (ratio ${r.ratioToSlowestAlone.toFixed(2)}x)`,
        `load average before ${before.loadavg.map((l) => l.toFixed(2)).join(' ')}, after ${after.loadavg.map((l) => l.toFixed(2)).join(' ')}`,
      ];
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
