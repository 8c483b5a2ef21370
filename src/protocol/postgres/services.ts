// What a PostgreSQL client session needs from the rest of the proxy, as one interface, so the
// session machine can be built and tested with real pieces wired differently (tests, workers).
import type tlsModule from 'node:tls';
import type { Logger } from 'pino';
import type { AuthQueryLookup } from '../../backend/auth-query.js';
import type { RuntimeTopology } from '../../backend/pg-topology.js';
import type { PgResultCache } from '../../cache/pg-result-cache.js';
import type { ShardgateConfig } from '../../config/schema.js';
import type { CutoverGate } from '../../migration/cutover-gate.js';
import type { StatementObserver } from '../../observability/statement-observer.js';
import type { Router } from '../../router/router.js';
import type { CompensatingCoordinator } from '../../transactions/compensating.js';
import type { PgDecisionLog } from '../../transactions/pg-two-phase.js';
import type { TwoPhaseCoordinator } from '../../transactions/two-phase.js';
import type { PgClientSession } from './client-session.js';

export interface CancelTarget {
  /** Cancels whatever the session is running on its server connection(s). */
  cancel(): void;
}

export interface CancelRegistry {
  register(target: CancelTarget): { processId: number; secretKey: number };
  /** Registers under the given key; false when it cannot (taken, or several workers). */
  registerAs?(processId: number, secretKey: number, target: CancelTarget): boolean;
  unregister(processId: number): void;
  cancel(processId: number, secretKey: number): void;
}

export interface SessionServices {
  config: ShardgateConfig;
  log: Logger;
  topology: RuntimeTopology;
  router: Router;
  cancel: CancelRegistry;
  observer: StatementObserver;
  /** Holds writes of a shard during a split's cutover block. */
  cutover: CutoverGate;
  tls: { module: typeof tlsModule; context: tlsModule.SecureContext; required: boolean } | null;
  /** auth_query: verifiers of users absent from the config (config authQuery). */
  authQuery?: AuthQueryLookup;
  /** Two-phase commit of transactions that span shards (transactions.crossShard: two_phase). */
  twoPhase?: TwoPhaseCoordinator;
  /** Where two-phase decisions are written (a participant on its server carries the decision). */
  twoPhaseLog?: PgDecisionLog;
  /** Compensate mode of data types with crossShard: compensate (src/transactions/compensating.ts). */
  compensating?: CompensatingCoordinator;
  /** The result cache (src/cache/), when observability and the proxy set one up. */
  resultCache?: PgResultCache;
  onSessionClosed(session: PgClientSession): void;
  /** Login completed (the listener's pre-auth accounting ends here). */
  onAuthenticated?(session: PgClientSession): void;
}
