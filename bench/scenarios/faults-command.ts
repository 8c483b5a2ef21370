// `shardgate bench faults`: options of the server-fault scenario (see faults.ts).
import path from 'node:path';
import type { Command } from 'commander';
import { choiceListOption, commandLine, intFlag } from '../lib/cli-args.js';
import { repoRoot } from '../lib/shardgate-process.js';
import { BENCH_PROTOCOLS, type BenchProtocol, FAULT_KINDS, type FaultKind } from './faults-report.js';

export function registerFaultsCommand(parent: Command): void {
  parent
    .command('faults')
    .description(
      'kill or cut off a replica or the primary under a steady load: errors and closed sessions clients see, time to shun and recover, reads retried',
    )
    .option(
      '--faults <list>',
      `comma-separated, of ${FAULT_KINDS.join(', ')} (default all)`,
      choiceListOption('--faults', FAULT_KINDS),
    )
    .option(
      '--pool-modes <list>',
      'comma-separated pool modes (default transaction,session)',
      choiceListOption('--pool-modes', ['transaction', 'session'] as const),
    )
    .option(
      '--protocols <list>',
      'comma-separated, of postgres, mysql (default postgres,mysql)',
      choiceListOption('--protocols', BENCH_PROTOCOLS),
    )
    .addOption(intFlag('--readers <n>', 'reader sessions (eventual reads)', 1, 200, 8))
    .addOption(intFlag('--before <s>', 'seconds of load before the fault', 1, 600, 3))
    .addOption(intFlag('--after <s>', 'seconds of load after the fault', 1, 600, 5))
    .option(
      '--quick',
      'PostgreSQL replica-kill in transaction pooling, 4 readers, 1 s + 2 s (the test suite runs this)',
    )
    .option('--json <file>', 'also write the JSON result here')
    .option('--results-dir <dir>', 'results directory', path.join(repoRoot(), 'bench', 'results'))
    .option('--no-results', 'write no result files')
    .action(async (opts: Record<string, unknown>) => {
      const quick = opts.quick === true;
      const { runFaultsBench } = await import('./faults.js');
      const { ok } = await runFaultsBench({
        faults: (opts.faults as FaultKind[] | undefined) ?? (quick ? ['replica-kill'] : [...FAULT_KINDS]),
        poolModes:
          (opts.poolModes as Array<'transaction' | 'session'> | undefined) ??
          (quick ? ['transaction'] : ['transaction', 'session']),
        protocols:
          (opts.protocols as BenchProtocol[] | undefined) ?? (quick ? ['postgres'] : [...BENCH_PROTOCOLS]),
        readers: quick ? 4 : (opts.readers as number),
        beforeSeconds: quick ? 1 : (opts.before as number),
        afterSeconds: quick ? 2 : (opts.after as number),
        resultsDir: opts.results === false ? null : (opts.resultsDir as string),
        ...(opts.json ? { jsonPath: opts.json as string } : {}),
        command: commandLine(),
        log: (line) => process.stdout.write(`${line}\n`),
      });
      process.exitCode = ok ? 0 : 1;
    });
}
