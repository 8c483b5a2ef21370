// The differential oracle in CI, both protocols in one file so their servers start together and
// their runs overlap (vitest runs files one at a time here): the hand-written corpus and a
// fixed-seed slice of the generated statements against one unsharded database (PostgreSQL;
// MariaDB through the MySQL port) and through shardgate on 2 and 3 shards with replicas. Every
// statement matches or is refused with a coded error and a message (0A000; errno 1235).
// The long runs and seed sweeps: `shardgate bench oracle --protocol both --seeds 1..10`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTally } from '../../bench/oracle/harness.js';
import { runMysqlOracle } from '../../bench/oracle/mysql-oracle-run.js';
import type { OracleRunOptions, OracleRunResult } from '../../bench/oracle/oracle-run.js';
import { runPgOracle } from '../../bench/oracle/pg-oracle-run.js';
import { type OracleClusters, startOracleClusters } from '../support/oracle-clusters.js';

const USERS = 30;
let clusters: OracleClusters | undefined;

beforeAll(async () => {
  clusters = await startOracleClusters({ shards: 3, replicas: 1 });
}, 120_000);

afterAll(async () => {
  await clusters?.stop();
});

async function run(protocol: 'postgres' | 'mysql', shards: number, options: OracleRunOptions) {
  if (protocol === 'postgres') {
    const topology = await clusters!.pg.topology(shards, USERS);
    return runPgOracle(topology, options);
  }
  const topology = await clusters!.my.topology(shards, USERS);
  return runMysqlOracle(topology, options);
}

function check(result: OracleRunResult, corpus: boolean, generated: number): void {
  if (corpus) expect(result.corpus.total).toBeGreaterThan(150);
  expect(result.generated.total).toBe(generated);
  expect(result.corpus.mismatches.map((m) => `${m.statement.source}: ${m.why}`)).toEqual([]);
  expect(result.generated.mismatches.map((m) => `${m.statement.source}: ${m.why}`)).toEqual([]);
  for (const t of [result.corpus, result.generated])
    expect(t.oracleTimeouts.map((m) => m.statement.source)).toEqual([]);
}

// Each topology has its own databases (sg<N>, oracle<N>) and proxy: the four runs go at once.
// The corpus runs once per protocol, on 3 shards (the bench runs it on every topology).
describe.concurrent.each([
  { protocol: 'postgres' as const, shards: 2, corpus: false, seed: 1, generated: 300 },
  { protocol: 'postgres' as const, shards: 3, corpus: true, seed: 2, generated: 200 },
  { protocol: 'mysql' as const, shards: 2, corpus: false, seed: 1, generated: 300 },
  { protocol: 'mysql' as const, shards: 3, corpus: true, seed: 2, generated: 200 },
])('$protocol oracle, $shards shards with replicas', ({ protocol, shards, corpus, seed, generated }) => {
  it(`${corpus ? 'corpus and ' : ''}generated slice: every statement matches or is refused`, async () => {
    const result = await run(protocol, shards, { corpus, generated, seed, users: USERS });
    if (corpus) console.log(formatTally(`${protocol} corpus, ${shards} shards`, result.corpus));
    console.log(formatTally(`${protocol} generated seed ${seed}, ${shards} shards`, result.generated));
    check(result, corpus, generated);
  }, 90_000);
});
