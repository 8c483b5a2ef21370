// Runs a list of statements through the oracle and shardgate and tallies the verdicts. A write
// runs on the oracle inside a transaction first and is committed only if shardgate did not refuse
// it, so a refused write leaves both sides equal and later queries keep comparing the same data.
// A statement past the time limit on the oracle is not compared: it is its own verdict, counted
// and listed apart; past the limit through shardgate only, it is a mismatch.
import { compareOutcomes, type Verdict } from './compare.js';
import { knownFailure } from './known-failures.js';
import { formatOutcome, type RunOutcome, type StatementRunner } from './outcome.js';
import type { StatementInfo } from './statement-info.js';

export interface Statement {
  sql: string;
  /** Where it comes from: "aggregates.sql:12" or "generated seed 1 #345". */
  source: string;
  /** Marked in the corpus as a known failure, owned by whoever fixes it. */
  known?: string;
}

export interface Sides {
  oracle: StatementRunner;
  shardgate: StatementRunner;
  info(sql: string): StatementInfo;
  floatTypes: ReadonlySet<number>;
  /** The error code shardgate refuses with in this dialect (see compare.ts). */
  refusedCode: string;
  /** Transaction control on the oracle ("BEGIN", "COMMIT", "ROLLBACK" in the dialect). */
  begin: string;
  commit: string;
  rollback: string;
}

export interface Finding {
  statement: Statement;
  why: string;
  oracle: string;
  shardgate: string;
  /** Set when the statement is a known failure owned elsewhere (see known-failures.ts). */
  knownOwner: string | null;
}

export interface Tally {
  total: number;
  matched: number;
  refused: Map<string, number>;
  /** One example statement per refusal reason. */
  refusedExample: Map<string, string>;
  mismatches: Finding[];
  known: Finding[];
  /** Statements past the time limit on the oracle: not compared, neither matched nor failed. */
  oracleTimeouts: Finding[];
}

export function emptyTally(): Tally {
  return {
    total: 0,
    matched: 0,
    refused: new Map(),
    refusedExample: new Map(),
    mismatches: [],
    known: [],
    oracleTimeouts: [],
  };
}

export type StatementVerdict = Verdict | { verdict: 'oracle-timeout' };

export function refusedCount(t: Tally): number {
  let n = 0;
  for (const v of t.refused.values()) n += v;
  return n;
}

async function runPair(sides: Sides, sql: string, writes: boolean): Promise<[RunOutcome, RunOutcome]> {
  if (!writes) return Promise.all([sides.oracle(sql), sides.shardgate(sql)]);
  await sides.oracle(sides.begin);
  const want = await sides.oracle(sql);
  const got = await sides.shardgate(sql);
  const refused = got.kind === 'error' && got.code === sides.refusedCode;
  const keep = want.kind === 'result' && got.kind !== 'timeout' && !refused;
  await sides.oracle(keep ? sides.commit : sides.rollback);
  return [want, got];
}

function finding(statement: Statement, why: string, want: RunOutcome, got: RunOutcome, known: string | null) {
  return { statement, why, oracle: formatOutcome(want), shardgate: formatOutcome(got), knownOwner: known };
}

export async function runStatement(
  sides: Sides,
  statement: Statement,
  tally: Tally,
): Promise<StatementVerdict> {
  const info = sides.info(statement.sql);
  const [want, got] = await runPair(sides, statement.sql, info.writes);
  if (want.kind === 'timeout') {
    tally.total++;
    tally.oracleTimeouts.push(finding(statement, 'past the time limit on the oracle', want, got, null));
    return { verdict: 'oracle-timeout' };
  }
  if (got.kind === 'timeout') {
    tally.total++;
    tally.mismatches.push(
      finding(statement, 'past the time limit through shardgate only (the oracle answered)', want, got, null),
    );
    return { verdict: 'mismatch', why: 'past the time limit through shardgate only' };
  }
  const verdict = compareOutcomes(want, got, {
    ordered: info.ordered,
    floatTypes: sides.floatTypes,
    refusedCode: sides.refusedCode,
    ...(info.unorderedCells ? { unorderedCells: info.unorderedCells } : {}),
  });
  tally.total++;
  if (verdict.verdict === 'match') tally.matched++;
  else if (verdict.verdict === 'refused') {
    tally.refused.set(verdict.reason, (tally.refused.get(verdict.reason) ?? 0) + 1);
    if (!tally.refusedExample.has(verdict.reason)) tally.refusedExample.set(verdict.reason, statement.sql);
  } else {
    const known = statement.known ?? knownFailure(statement.sql)?.owner ?? null;
    (known ? tally.known : tally.mismatches).push(finding(statement, verdict.why, want, got, known));
  }
  return verdict;
}

export async function runStatements(
  sides: Sides,
  statements: Statement[],
  tally = emptyTally(),
): Promise<Tally> {
  for (const s of statements) await runStatement(sides, s, tally);
  return tally;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}

export function formatFinding(f: Finding): string {
  return [
    `  ${f.statement.source}: ${f.statement.sql}`,
    `    ${f.why}${f.knownOwner ? `  [KNOWN FAILURE: ${f.knownOwner}]` : ''}`,
    '    oracle:',
    indent(f.oracle),
    '    shardgate:',
    indent(f.shardgate),
  ].join('\n');
}

/** The summary: counts, refusals by reason, then every mismatch and known failure in full. */
export function formatTally(
  title: string,
  t: Tally,
  options: { details?: boolean; maxFindings?: number } = {},
): string {
  const max = options.maxFindings ?? 50;
  const lines = [
    `${title}: ${t.total} statements, ${t.matched} matched, ${refusedCount(t)} refused, ${t.mismatches.length} mismatched, ${t.known.length} known failures, ${t.oracleTimeouts.length} oracle timeouts`,
  ];
  const reasons = [...t.refused.entries()].sort((a, b) => b[1] - a[1]);
  if (reasons.length > 0) lines.push('refused by reason:');
  for (const [reason, n] of reasons) {
    lines.push(`  ${String(n).padStart(6)}  ${reason}`);
    if (options.details) lines.push(`          e.g. ${t.refusedExample.get(reason)}`);
  }
  if (t.known.length > 0) {
    lines.push('KNOWN FAILURES (owned by the planner side of #10, not fixed here):');
    for (const f of t.known.slice(0, max))
      lines.push(
        options.details ? formatFinding(f) : `  ${f.statement.source}: ${f.statement.sql}  [${f.knownOwner}]`,
      );
    if (t.known.length > max) lines.push(`  ... ${t.known.length - max} more`);
  }
  if (t.oracleTimeouts.length > 0) {
    lines.push('ORACLE TIMEOUTS (past the time limit on the unsharded database, not compared):');
    for (const f of t.oracleTimeouts.slice(0, max)) lines.push(formatFinding(f));
    if (t.oracleTimeouts.length > max) lines.push(`  ... ${t.oracleTimeouts.length - max} more`);
  }
  if (t.mismatches.length > 0) {
    lines.push('MISMATCHES:');
    for (const f of t.mismatches.slice(0, max)) lines.push(formatFinding(f));
    if (t.mismatches.length > max) lines.push(`  ... ${t.mismatches.length - max} more`);
  }
  return lines.join('\n');
}
