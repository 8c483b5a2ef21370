// Command-line options of the hotkeys scenario, parsed into HotkeysOptions.
import type { Command } from 'commander';
import { commandLine, intOption, numberOption } from '../lib/cli-args.js';
import { defaultHotkeysOptions, HOTKEYS_QUICK, type HotkeysOptions } from './hotkeys-options.js';

interface RawOptions {
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
  json?: string;
  resultsDir?: string;
  results: boolean;
  quick?: boolean;
}

/** Defaults, then --quick, then explicit options. */
export function resolveHotkeysOptions(raw: RawOptions, command: string): HotkeysOptions {
  const o: HotkeysOptions = { ...defaultHotkeysOptions(), ...(raw.quick ? HOTKEYS_QUICK : {}), command };
  if (raw.keys !== undefined) o.keys = raw.keys;
  if (raw.zipf !== undefined) o.zipfS = raw.zipf;
  if (raw.ops !== undefined) o.ops = raw.ops;
  if (raw.maxSeconds !== undefined) o.maxSeconds = raw.maxSeconds;
  if (raw.clients !== undefined) o.clients = raw.clients;
  if (raw.writeRatio !== undefined) o.writeRatio = raw.writeRatio;
  if (raw.top !== undefined) o.top = raw.top;
  if (raw.repeats !== undefined) o.repeats = raw.repeats;
  if (raw.seed !== undefined) o.seed = raw.seed;
  if (raw.workers !== undefined) o.workers = raw.workers;
  if (raw.json) o.jsonPath = raw.json;
  if (raw.resultsDir) o.resultsDir = raw.resultsDir;
  if (raw.results === false) o.resultsDir = null;
  return o;
}

export function registerHotkeysCommand(program: Command): void {
  program
    .command('hotkeys')
    .description(
      "zipfian key access through shardgate: its reported hot keys and hotspot scores against the generator's exact counts",
    )
    .option(
      '--keys <n>',
      'distinct keys (user_id values) the generator draws from (default 100000)',
      intOption('--keys', 1, 10_000_000),
    )
    .option('--zipf <s>', 'Zipf exponent, 0 = uniform (default 1.0)', numberOption('--zipf', 0, 5))
    .option('--ops <n>', 'statements per repeat (default 30000)', intOption('--ops', 1, 100_000_000))
    .option('--max-seconds <s>', 'time limit per repeat (default 120)', intOption('--max-seconds', 1, 86_400))
    .option('--clients <n>', 'concurrent client sessions (default 4)', intOption('--clients', 1, 256))
    .option('--write-ratio <r>', 'share of UPDATEs, 0-1 (default 0.1)', numberOption('--write-ratio', 0, 1))
    .option('--top <k>', 'k of precision@k: top keys compared (default 10)', intOption('--top', 1, 1000))
    .option(
      '--repeats <n>',
      'repeats, each with a fresh shardgate (default 3)',
      intOption('--repeats', 1, 100),
    )
    .option('--seed <n>', 'random seed (default 1)', intOption('--seed', 0, 2 ** 31 - 1))
    .option(
      '--workers <n>',
      "shardgate worker processes (default 1: with more, /api/hotkeys only sees worker 0's sessions)",
      intOption('--workers', 1, 64),
    )
    .option('--json <file>', 'also write the JSON result here')
    .option('--results-dir <dir>', 'directory for hotkeys-<timestamp>.json and hotkeys-latest.{json,svg,md}')
    .option('--no-results', 'write no result files')
    .option(
      '--quick',
      'tiny run for smoke tests: Zipf 1.1 over 5000 keys, 3000 statements, 2 clients, 1 repeat',
    )
    .action(async (raw: RawOptions) => {
      const { runHotkeysScenario } = await import('./hotkeys.js');
      await runHotkeysScenario(resolveHotkeysOptions(raw, commandLine()));
    });
}
