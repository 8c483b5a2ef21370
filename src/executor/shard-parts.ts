// Running one statement's parts on several servers, for both protocols: the scatter runners and
// the cross-shard join fetches (src/protocol/*/scatter-runner.ts, join-runner.ts). The protocol
// gives a small backend port (get a connection, run a part on it, give it back, tell an error
// answer); the order of things is here: every connection or none, all parts in parallel, every
// connection given back whatever happened, the first failed part by part order, then the merge.
import type { RouteTarget } from '../router/plan.js';
import type { ResultMerger } from './merger.js';
import type { Row } from './rows.js';

/** What one protocol gives the executor to run parts on servers. */
export interface ShardBackend<B, P, R> {
  /** The connection (binding) for a part's target. */
  acquire(target: RouteTarget): B | Promise<B>;
  /** Gives a binding back; called once for every binding acquired, whatever happened. */
  release(binding: B): void;
  /** Sends one part and collects its whole answer (a server's error answer resolves, not rejects). */
  run(binding: B, part: P, index: number): Promise<R>;
  /** The part's server answered with an error. */
  failed(result: R): boolean;
  /** After every part answered, while the bindings are still held (MySQL: collation lookups). */
  whileHeld?(bindings: B[], results: R[]): Promise<void>;
  /** A part (or whileHeld) threw, bindings still held: the error to throw instead, if any. */
  lost?(bindings: B[], err: unknown): Error | null;
}

export interface ShardPart {
  target: RouteTarget;
}

export interface PartsOutcome<B, R> {
  /** Index-aligned with the parts. */
  bindings: B[];
  results: R[];
  /** The first part (by part order) whose server answered with an error. */
  failed: R | undefined;
  /** From the first acquire to the last release. */
  latencySeconds: number;
}

/** A connection for every target, or none: those already acquired go back when one fails. */
export async function acquireEvery<B>(
  targets: RouteTarget[],
  acquire: (target: RouteTarget) => B | Promise<B>,
  giveBack: (binding: B) => void,
): Promise<B[]> {
  const settled = await Promise.allSettled(targets.map(async (t) => acquire(t)));
  const bindings = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    for (const b of bindings) giveBack(b);
    throw (failed as PromiseRejectedResult).reason;
  }
  return bindings;
}

/** Runs every part on its target's server in parallel; every binding is given back before this returns. */
export async function runParts<B, P, R>(
  backend: ShardBackend<B, P, R>,
  parts: Array<P & ShardPart>,
): Promise<PartsOutcome<B, R>> {
  const started = performance.now();
  const bindings = await acquireEvery(
    parts.map((p) => p.target),
    (t) => backend.acquire(t),
    (b) => backend.release(b),
  );
  let results: R[];
  try {
    results = await Promise.all(parts.map((p, i) => backend.run(bindings[i]!, p, i)));
    if (backend.whileHeld) await backend.whileHeld(bindings, results);
  } catch (err) {
    // Nothing reached the client yet: the protocol may name the loss (a read may run again).
    throw backend.lost?.(bindings, err) ?? err;
  } finally {
    for (const b of bindings) backend.release(b);
  }
  const latencySeconds = (performance.now() - started) / 1000;
  return { bindings, results, failed: results.find((r) => backend.failed(r)), latencySeconds };
}

/** Feeds each part's rows to the merger under the part's number, and returns the merged rows. */
export function mergeParts(merger: ResultMerger, partRows: Array<readonly Row[]>): Row[] {
  partRows.forEach((rows, i) => {
    for (const row of rows) merger.add(i, row);
  });
  return merger.finish();
}
