// Options of the idle-connections scenario, their defaults and the --quick preset. Kept apart
// from the runner so the command line parses (and --help prints) without loading the launcher.
import { type ScenarioOutputOptions, scenarioOutputDefaults } from '../lib/scenario-options.js';

export interface IdleOptions extends ScenarioOutputOptions {
  /** Idle client connections held while the active clients run. */
  connections: number;
  /** pgbench -S clients. */
  clients: number;
  durationS: number;
  /** Rounds of (without idle, with idle). */
  rounds: number;
  /** Logins in flight at once. */
  batch: number;
  warmupS: number;
  /** Seconds between the last login and the memory reading. */
  settleS: number;
  workers: number;
  poolSize: number;
  scale: number;
}

export function defaultIdleOptions(): IdleOptions {
  return {
    connections: 10_000,
    clients: 16,
    durationS: 5,
    rounds: 2,
    batch: 100,
    warmupS: 2,
    settleS: 2,
    workers: 1,
    poolSize: 20,
    scale: 1,
    ...scenarioOutputDefaults('idle'),
  };
}

/** The --quick preset: 200 idle connections, 1 s runs, one round; explicit options still win. */
export const QUICK_IDLE: Partial<IdleOptions> = {
  connections: 200,
  durationS: 1,
  rounds: 1,
  warmupS: 1,
  settleS: 1,
};
