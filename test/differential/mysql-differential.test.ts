// The MySQL differential oracle in CI: the hand-written MySQL corpus and a fixed-seed slice of the
// generated statements (the same generator as PostgreSQL, MySQL spelling) run against one
// unsharded MariaDB database and through shardgate's MySQL port on 2 and 3 shards with GTID
// replicas; every statement matches or is refused with errno 1235 and a message.
// `shardgate bench oracle --protocol mysql` runs the same harness at any size and seed sweep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTally } from '../../bench/oracle/harness.js';
import { runMysqlOracle } from '../../bench/oracle/mysql-oracle-run.js';
import { type MysqlOracleCluster, startMysqlOracleCluster } from '../../bench/oracle/mysql-topology.js';

const USERS = 30;
let servers: MysqlOracleCluster;

beforeAll(async () => {
  servers = await startMysqlOracleCluster({ shards: 3, replicas: 1 });
}, 120_000);

afterAll(async () => {
  await servers?.stop();
});

describe.each([
  { shards: 2, seed: 1, generated: 400 },
  { shards: 3, seed: 2, generated: 300 },
])('MySQL oracle, $shards shards with replicas', ({ shards, seed, generated }) => {
  it('corpus and generated slice: every statement matches or is refused', async () => {
    const topology = await servers.topology(shards, USERS);
    const result = await runMysqlOracle(topology, { corpus: true, generated, seed, users: USERS });
    console.log(formatTally(`mysql corpus, ${shards} shards`, result.corpus));
    console.log(formatTally(`mysql generated seed ${seed}, ${shards} shards`, result.generated));
    expect(result.corpus.total).toBeGreaterThan(150);
    expect(result.generated.total).toBe(generated);
    expect(result.corpus.mismatches.map((m) => `${m.statement.source}: ${m.why}`)).toEqual([]);
    expect(result.generated.mismatches.map((m) => `${m.statement.source}: ${m.why}`)).toEqual([]);
  }, 90_000);
});
