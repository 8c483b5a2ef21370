// The last step of a cross-shard commit, two-phase or compensate mode: every participant commits
// at once and each outcome is kept (a failed one does not stop the others).
import { type Failpoint, hitFailpoint } from './failpoints.js';

/**
 * `commit` on every participant at once, settled in participant order; `afterFirst` fires once
 * the first one has committed (a crash there leaves the others in flight, for recovery tests).
 */
export function commitAll<P>(
  participants: readonly P[],
  commit: (p: P) => Promise<void>,
  afterFirst: Failpoint,
): Promise<PromiseSettledResult<void>[]> {
  let first = true;
  return Promise.allSettled(
    participants.map(async (p) => {
      await commit(p);
      if (first) {
        first = false;
        hitFailpoint(afterFirst);
      }
    }),
  );
}
