// What a MySQL client session needs from the rest of the proxy, as one interface (the twin of
// the PostgreSQL side's services.ts), so sessions can be built with real pieces wired
// differently (tests, workers).
import type tlsModule from 'node:tls';
import type { Logger } from 'pino';
import type { MysqlTopology } from '../../backend/mysql-topology.js';
import type { ShardgateConfig } from '../../config/schema.js';
import type { CutoverGate } from '../../migration/cutover-gate.js';
import type { StatementObserver } from '../../observability/statement-observer.js';
import type { Router } from '../../router/router.js';
import type { MysqlQueryAnalyzer } from '../../sql/mysql/analyzer-mysql.js';
import type { CompensatingCoordinator } from '../../transactions/compensating.js';
import type { MysqlDecisionLog } from '../../transactions/mysql-two-phase.js';
import type { TwoPhaseCoordinator } from '../../transactions/two-phase.js';
import type { ConnectionIds } from './connection-ids.js';
import type { KillRouter } from './kill-router.js';
import type { Sha2AuthState } from './password-check.js';
import type { ServerInfo } from './server-info.js';

/** A session KILL can reach. */
export interface KillTarget {
  readonly connectionId: number;
  readonly user: string | null;
  /** Backend thread ids this session holds: server name -> thread id. */
  backendThreads(): Map<string, number>;
  /** KILL QUERY: stop what runs now, keep the session. */
  killQuery(): void;
  /** KILL [CONNECTION]: end the session. */
  killConnection(): void;
}

export interface MysqlServices {
  config: ShardgateConfig;
  log: Logger;
  topology: MysqlTopology;
  router: Router<MysqlQueryAnalyzer>;
  observer: StatementObserver;
  /** Holds writes of a shard during a cutover block: the same gate as the PostgreSQL sessions'. */
  cutover: CutoverGate;
  tls: { module: typeof tlsModule; context: tlsModule.SecureContext; required: boolean } | null;
  server: ServerInfo;
  sha2: Sha2AuthState;
  /** Live sessions by connection id (KILL). */
  sessions: Map<number, KillTarget>;
  /** Allocates the connection ids, naming this worker (default: worker 0). */
  connectionIds?: ConnectionIds;
  /** Where a KILL no session here matches goes: the owning worker, the other instances. */
  kills?: KillRouter;
  onSessionClosed(session: KillTarget): void;
  /** Two-phase commit of transactions that span shards (XA; see distributed-commit.ts). */
  twoPhase?: TwoPhaseCoordinator;
  twoPhaseLog?: MysqlDecisionLog;
  /** Compensate mode of data types with crossShard: compensate (src/transactions/compensating.ts). */
  compensating?: CompensatingCoordinator;
  /** Login completed (the listener's pre-auth accounting ends here). */
  onAuthenticated?(session: KillTarget): void;
}
