// One PostgreSQL oracle run: the corpus and/or generated statements against a topology, tallied.
import { loadModule } from 'libpg-query';
import { loadCorpus } from './corpus.js';
import { emptyTally, runStatements, type Sides, type Tally } from './harness.js';
import { generatePgStatements } from './pg-generator.js';
import { PG_FLOAT_TYPES, pgStatementRunner } from './pg-runner.js';
import type { PgOracleTopology } from './pg-topology.js';
import { pgStatementInfo } from './statement-info.js';

export function pgSides(topology: PgOracleTopology): Sides {
  return {
    oracle: pgStatementRunner(topology.oracle),
    shardgate: pgStatementRunner(topology.shardgate),
    info: pgStatementInfo,
    floatTypes: PG_FLOAT_TYPES,
    begin: 'BEGIN',
    commit: 'COMMIT',
    rollback: 'ROLLBACK',
  };
}

export interface PgRunResult {
  corpus: Tally;
  generated: Tally;
}

export async function runPgOracle(
  topology: PgOracleTopology,
  options: { corpus: boolean; generated: number; seed: number; users: number },
): Promise<PgRunResult> {
  await loadModule(); // statement-info parses with libpg-query
  const sides = pgSides(topology);
  const corpus = emptyTally();
  if (options.corpus)
    for (const c of loadCorpus('postgres')) await runStatements(sides, c.statements, corpus);
  const generated = emptyTally();
  if (options.generated > 0)
    await runStatements(
      sides,
      generatePgStatements(options.generated, { seed: options.seed, users: options.users }),
      generated,
    );
  return { corpus, generated };
}
