// One oracle run in either dialect: the hand-written corpus and/or generated statements against
// one topology's two sides (the unsharded database and shardgate), tallied separately.
import { loadCorpus } from './corpus.js';
import { type Dialect, generateStatements } from './generator.js';
import { emptyTally, runStatements, type Sides, type Tally } from './harness.js';

export interface OracleRunOptions {
  corpus: boolean;
  generated: number;
  seed: number;
  users: number;
  /** The per-statement time limit on both sides (timed-runner.ts); 20 s when absent. */
  statementTimeoutMs?: number;
}

export interface OracleRunResult {
  corpus: Tally;
  generated: Tally;
}

export async function runOracle(
  sides: Sides,
  dialect: Dialect,
  options: OracleRunOptions,
): Promise<OracleRunResult> {
  const corpus = emptyTally();
  if (options.corpus) for (const c of loadCorpus(dialect)) await runStatements(sides, c.statements, corpus);
  const generated = emptyTally();
  if (options.generated > 0)
    await runStatements(
      sides,
      generateStatements(options.generated, { seed: options.seed, users: options.users, dialect }),
      generated,
    );
  return { corpus, generated };
}
