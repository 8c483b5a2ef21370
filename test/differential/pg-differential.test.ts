// The PostgreSQL differential oracle in CI: the hand-written corpus and a fixed-seed slice of the
// generated statements run against one unsharded database and through shardgate on 2 and 3
// shards with replicas; every statement matches or is refused with 0A000 and a message.
// `shardgate bench oracle` runs the same harness at any size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTally } from '../../bench/oracle/harness.js';
import { runPgOracle } from '../../bench/oracle/pg-oracle-run.js';
import { type PgOracleCluster, startPgOracleCluster } from '../../bench/oracle/pg-topology.js';

const USERS = 30;
let servers: PgOracleCluster;

beforeAll(async () => {
  servers = await startPgOracleCluster({ shards: 3, replicas: 1 });
}, 120_000);

afterAll(async () => {
  await servers?.stop();
});

describe.each([
  { shards: 2, seed: 1, generated: 400 },
  { shards: 3, seed: 2, generated: 300 },
])('PostgreSQL oracle, $shards shards with replicas', ({ shards, seed, generated }) => {
  it('corpus and generated slice: every statement matches or is refused', async () => {
    const topology = await servers.topology(shards, USERS);
    const result = await runPgOracle(topology, { corpus: true, generated, seed, users: USERS });
    console.log(formatTally(`corpus, ${shards} shards`, result.corpus));
    console.log(formatTally(`generated seed ${seed}, ${shards} shards`, result.generated));
    expect(result.corpus.total).toBeGreaterThan(150);
    expect(result.generated.total).toBe(generated);
    expect(result.corpus.mismatches.map((m) => `${m.statement.source}: ${m.why}`)).toEqual([]);
    expect(result.generated.mismatches.map((m) => `${m.statement.source}: ${m.why}`)).toEqual([]);
  }, 90_000);
});
