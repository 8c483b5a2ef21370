// Options of the sysbench scenario, their defaults and the --quick preset (kept apart from the
// runner so --help works without loading the launcher).
import {
  type ProxyTargetOptions,
  proxyTargetDefaults,
  type ScenarioOutputOptions,
  scenarioOutputDefaults,
} from '../lib/scenario-options.js';
import { SYSBENCH_TESTS, type SysbenchPsMode, type SysbenchTest } from '../lib/sysbench.js';

export const SYSBENCH_TARGETS = ['direct', 'shardgate'] as const;
export type SysbenchTargetName = (typeof SYSBENCH_TARGETS)[number];

export interface SysbenchOptions extends ScenarioOutputOptions, ProxyTargetOptions {
  tests: SysbenchTest[];
  threads: number[];
  durationS: number;
  targets: SysbenchTargetName[];
  repeats: number;
  warmupS: number;
  /** sbtest1..N, each tableSize rows. */
  tables: number;
  tableSize: number;
  psMode: SysbenchPsMode;
}

export function defaultSysbenchOptions(): SysbenchOptions {
  return {
    tests: [...SYSBENCH_TESTS],
    threads: [1, 16],
    durationS: 10,
    targets: [...SYSBENCH_TARGETS],
    repeats: 3,
    warmupS: 3,
    tables: 4,
    tableSize: 10_000,
    psMode: 'disable',
    ...proxyTargetDefaults(),
    ...scenarioOutputDefaults('sysbench'),
  };
}

/** The --quick preset: seconds long, for the test suite. Explicit options still win. */
export const SYSBENCH_QUICK: Partial<SysbenchOptions> = {
  tests: ['oltp_point_select'],
  threads: [1],
  durationS: 2,
  repeats: 1,
  warmupS: 1,
  tables: 1,
  tableSize: 1_000,
};

export function estimateSysbenchSeconds(o: SysbenchOptions, targets: number): number {
  return (
    targets * (o.warmupS + 1) + o.tests.length * o.threads.length * o.repeats * targets * (o.durationS + 1)
  );
}
