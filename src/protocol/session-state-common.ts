// The part of a client session's state both protocols keep alike: who it is, the BEGIN shardgate
// answered itself, its read-your-writes positions, its routing context and why a server
// connection is pinned to it. Each protocol's state extends this with its own fields.
import type { SessionContext } from '../router/inputs.js';
import type { TransactionPlacement } from './transaction-placement.js';

/** The transaction's shard, server and READ ONLY come from TransactionPlacement (cleared together). */
export interface CommonSessionState extends TransactionPlacement {
  user: string;
  /** A BEGIN shardgate answered itself; sent to the server with the transaction's first statement. */
  deferredBegin: string | null;
  /**
   * read_your_writes: shard -> the session's last write there, as the server's position
   * (PostgreSQL: LSN of the last committed write; MySQL: GTID from last_gtid).
   */
  lastWritePositions: Map<string, string>;
  context: SessionContext;
  /** Why a server connection is pinned to this session (temporary tables, locks, LISTEN, user variables...). */
  pinnedReason: string | null;
}
