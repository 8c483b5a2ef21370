// The oracle's per-statement time limit (bench/oracle/timed-runner.ts), on both protocols: a
// statement past the limit on the oracle is counted as an oracle timeout (neither matched nor a
// mismatch), one past the limit through shardgate only is a mismatch, and the run goes on with
// the next statement on a reopened connection. The sleeps are far longer than the limits, so the
// verdicts do not depend on how loaded the machine is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyTally, runStatement, type Sides } from '../../bench/oracle/harness.js';
import { mysqlSides } from '../../bench/oracle/mysql-oracle-run.js';
import { pgSides } from '../../bench/oracle/pg-oracle-run.js';
import { type OracleClusters, startOracleClusters } from '../support/oracle-clusters.js';

let clusters: OracleClusters | undefined;
const sides: { postgres?: (limitMs: number) => Sides; mysql?: (limitMs: number) => Sides } = {};

beforeAll(async () => {
  clusters = await startOracleClusters({ shards: 1, replicas: 0 });
  const [pt, mt] = await Promise.all([clusters.pg.topology(1, 5), clusters.my.topology(1, 5)]);
  sides.postgres = (ms) => pgSides(pt, ms);
  sides.mysql = (ms) => mysqlSides(mt, ms);
}, 120_000);

afterAll(async () => {
  await clusters?.stop();
});

const sleep = {
  postgres: (s: number) => `SELECT pg_sleep(${s})`,
  mysql: (s: number) => `SELECT SLEEP(${s})`,
};

describe.each(['postgres', 'mysql'] as const)('%s oracle: per-statement time limit', (protocol) => {
  it('a statement past the limit on the oracle is an oracle timeout, and the next one still compares', async () => {
    const s = sides[protocol]!(300);
    const tally = emptyTally();
    const verdict = await runStatement(s, { sql: sleep[protocol](8), source: 'test' }, tally);
    expect(verdict).toEqual({ verdict: 'oracle-timeout' });
    expect(tally.oracleTimeouts.map((f) => f.statement.sql)).toEqual([sleep[protocol](8)]);
    // The server's own limit ended it (max_statement_time, statement_timeout), not the client's bound.
    expect(tally.oracleTimeouts[0]!.oracle).toMatch(/^TIMEOUT after 300 ms \(server error (1969|57014):/);
    expect([tally.matched, tally.mismatches.length, tally.total]).toEqual([0, 0, 1]);
    expect(await runStatement(s, { sql: 'SELECT 1 AS one', source: 'test' }, tally)).toEqual({
      verdict: 'match',
    });
  }, 60_000);

  it('a statement past the limit through shardgate only is a mismatch', async () => {
    const oracleSide = sides[protocol]!(60_000);
    const s: Sides = { ...oracleSide, shardgate: sides[protocol]!(200).shardgate };
    const tally = emptyTally();
    const verdict = await runStatement(s, { sql: sleep[protocol](3), source: 'test' }, tally);
    expect(verdict.verdict).toBe('mismatch');
    expect(tally.mismatches).toHaveLength(1);
    // shardgate's side has no server limit: the client's bound closed the connection.
    expect(tally.mismatches[0]!.shardgate).toMatch(/^TIMEOUT after 200 ms \(no answer after/);
    expect(tally.oracleTimeouts).toEqual([]);
    expect(await runStatement(s, { sql: 'SELECT 1 AS one', source: 'test' }, tally)).toEqual({
      verdict: 'match',
    });
  }, 60_000);
});
