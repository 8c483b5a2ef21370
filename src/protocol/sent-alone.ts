// A statement that runs across shards (a join, a key move, a COPY, a scatter) is run by a runner
// of its own, which cannot also run the other statements of its batch: both protocols refuse the
// batch with the same error.
import { ShardgateError } from '../errors.js';

/**
 * Throws SCATTER_UNSUPPORTED unless `statements` holds exactly one statement. `what` names the
 * statement ("a cross-shard join"); `batch` is the protocol's word for what carried it.
 */
export function requireSentAlone(
  statements: readonly unknown[],
  what: string,
  batch: 'message' | 'query',
): void {
  if (statements.length !== 1)
    throw new ShardgateError('SCATTER_UNSUPPORTED', {
      detail: `${what} must be sent alone, not with other statements in one ${batch}`,
    });
}
