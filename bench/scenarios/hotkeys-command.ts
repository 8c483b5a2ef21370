// Command-line options of the hotkeys scenario, parsed into HotkeysOptions.
import type { Command } from 'commander';
import { intFlag } from '../lib/cli-args.js';
import {
  endScenarioCommand,
  type RawScenarioOptions,
  resolveScenarioOptions,
  sharedOption,
} from '../lib/scenario-options.js';
import { defaultHotkeysOptions, HOTKEYS_QUICK, type HotkeysOptions } from './hotkeys-options.js';

interface RawOptions extends RawScenarioOptions {
  keys?: number;
  zipf?: number;
  ops?: number;
  maxSeconds?: number;
  clients?: number;
  writeRatio?: number;
  top?: number;
  repeats?: number;
  seed?: number;
  workers?: number;
}

/** Defaults, then --quick, then explicit options. */
export function resolveHotkeysOptions(raw: RawOptions, command: string): HotkeysOptions {
  return resolveScenarioOptions(defaultHotkeysOptions(), HOTKEYS_QUICK, raw, command, {
    keys: raw.keys,
    zipfS: raw.zipf,
    ops: raw.ops,
    maxSeconds: raw.maxSeconds,
    clients: raw.clients,
    writeRatio: raw.writeRatio,
    top: raw.top,
    repeats: raw.repeats,
    seed: raw.seed,
    workers: raw.workers,
  });
}

export function registerHotkeysCommand(program: Command): void {
  const command = program
    .command('hotkeys')
    .description(
      "zipfian key access through shardgate: its reported hot keys and hotspot scores against the generator's exact counts",
    )
    .addOption(
      intFlag(
        '--keys <n>',
        'distinct keys (user_id values) the generator draws from (default 100000)',
        1,
        10_000_000,
      ),
    )
    .addOption(sharedOption.zipf('Zipf exponent, 0 = uniform (default 1.0)'))
    .addOption(intFlag('--ops <n>', 'statements per repeat (default 30000)', 1, 100_000_000))
    .addOption(intFlag('--max-seconds <s>', 'time limit per repeat (default 120)', 1, 86_400))
    .addOption(sharedOption.clients('concurrent client sessions (default 4)'))
    .addOption(sharedOption.writeRatio('share of UPDATEs, 0-1 (default 0.1)'))
    .addOption(intFlag('--top <k>', 'k of precision@k: top keys compared (default 10)', 1, 1000))
    .addOption(sharedOption.repeats('repeats, each with a fresh shardgate (default 3)'))
    .addOption(sharedOption.seed())
    .addOption(
      sharedOption.workers(
        "shardgate worker processes (default 1: with more, /api/hotkeys only sees worker 0's sessions)",
      ),
    );
  endScenarioCommand(
    command,
    { quick: 'Zipf 1.1 over 5000 keys, 3000 statements, 2 clients, 1 repeat' },
    resolveHotkeysOptions,
    async (o) => (await import('./hotkeys.js')).runHotkeysScenario(o),
  );
}
