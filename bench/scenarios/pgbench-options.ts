// Options of the pgbench scenario, their defaults and the --quick preset. Kept apart from the
// runner so the command line parses (and --help prints) without loading the launcher.
import { PGBENCH_MODES, type PgbenchMode, type PgbenchScript } from '../lib/pgbench.js';
import {
  type ProxyTargetOptions,
  proxyTargetDefaults,
  type ScenarioOutputOptions,
  scenarioOutputDefaults,
} from '../lib/scenario-options.js';

export const PGBENCH_TARGETS = ['direct', 'shardgate', 'pgbouncer', 'pgpool'] as const;
export type PgbenchTargetName = (typeof PGBENCH_TARGETS)[number];

export interface PgbenchOptions extends ScenarioOutputOptions, ProxyTargetOptions {
  durationS: number;
  clients: number[];
  modes: PgbenchMode[];
  targets: PgbenchTargetName[];
  repeats: number;
  scale: number;
  script: PgbenchScript;
  /** Seconds of pgbench per target before measuring (0: none). */
  warmupS: number;
}

export function defaultPgbenchOptions(): PgbenchOptions {
  return {
    durationS: 10,
    clients: [1, 16, 64],
    modes: [...PGBENCH_MODES],
    targets: [...PGBENCH_TARGETS],
    repeats: 3,
    scale: 10,
    script: 'select',
    warmupS: 3,
    ...proxyTargetDefaults(),
    ...scenarioOutputDefaults('pgbench'),
  };
}

/** The --quick preset: seconds long, for smoke tests. Explicit options still win. */
export const QUICK_PRESET: Partial<PgbenchOptions> = {
  durationS: 2,
  clients: [1],
  modes: ['simple'],
  repeats: 1,
  scale: 1,
  warmupS: 1,
};

/** Rough wall time of the measured phase, for the banner. */
export function estimateSeconds(
  o: Pick<PgbenchOptions, 'durationS' | 'clients' | 'modes' | 'repeats' | 'warmupS'>,
  targets: number,
): number {
  const cells = o.clients.length * o.modes.length;
  return targets * (o.warmupS + 1) + cells * o.repeats * targets * (o.durationS + 1);
}
