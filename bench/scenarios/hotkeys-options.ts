// Options of the hotkeys scenario, their defaults and the --quick preset (kept apart from the
// runner so --help works without loading the launcher).
import { type ScenarioOutputOptions, scenarioOutputDefaults } from '../lib/scenario-options.js';

export interface HotkeysOptions extends ScenarioOutputOptions {
  /** Distinct keys the generator draws from (user_id values). */
  keys: number;
  /** Zipf exponent: 0 is uniform, ~1 is typical web skew. */
  zipfS: number;
  /** Statements per repeat (the run stops at `ops` or `maxSeconds`, whichever comes first). */
  ops: number;
  maxSeconds: number;
  clients: number;
  /** Share of statements that are UPDATEs (the rest are SELECTs); both address one key. */
  writeRatio: number;
  /** k of precision@k and the number of keys compared. */
  top: number;
  repeats: number;
  seed: number;
  workers: number;
}

export function defaultHotkeysOptions(): HotkeysOptions {
  return {
    keys: 100_000,
    zipfS: 1.0,
    ops: 30_000,
    maxSeconds: 120,
    clients: 4,
    writeRatio: 0.1,
    top: 10,
    repeats: 3,
    seed: 1,
    workers: 1,
    ...scenarioOutputDefaults('hotkeys'),
  };
}

/** The --quick preset: seconds long, for the test suite. Explicit options still win. */
export const HOTKEYS_QUICK: Partial<HotkeysOptions> = {
  keys: 5_000,
  zipfS: 1.1,
  ops: 3_000,
  maxSeconds: 60,
  clients: 2,
  repeats: 1,
};
