// /api/transactions: cross-shard transactions. GET lists what is in doubt on the servers of both
// protocols (prepared on a server, waiting for recovery) with the counters, and the compensate-mode
// transactions that were undone or are being decided (`compensations`); POST /api/transactions/<gid>/resolve (body
// {"action": "auto" | "commit" | "abort"}) resolves one from the decision log now. Both need the
// admin token (transaction ids and server names are operator data). `shardgate txn` is a client.
import { z } from 'zod';
import type { CompensationStore } from '../transactions/compensating.js';
import type { RecoveryGroup } from '../transactions/recovery-group.js';
import type { TwoPhaseStats } from '../transactions/stats.js';
import { type AdminServer, HttpError } from './http.js';

const resolveRequest = z.object({ action: z.enum(['auto', 'commit', 'abort']).default('auto') });

export function registerTransactionRoutes(
  admin: AdminServer,
  recovery: RecoveryGroup,
  stats: TwoPhaseStats,
  compensations: ReadonlyArray<{ protocol: string; store: CompensationStore }>,
): void {
  admin.route({
    method: 'GET',
    path: '/api/transactions',
    handler: async () => {
      // Each protocol's log; one that cannot be read is named, not hidden behind an error of the whole answer.
      const unreadable: Record<string, string> = {};
      const lists = await Promise.all(
        compensations.map(({ protocol, store }) =>
          store.list(100).catch((err: Error) => {
            unreadable[protocol] = err.message;
            return [];
          }),
        ),
      );
      return {
        json: {
          inDoubt: await recovery.list(),
          commits: stats.commits,
          aborts: stats.aborts,
          unknownOutcomes: stats.unknownOutcomes,
          recoveredCommits: stats.recoveredCommits,
          recoveredAborts: stats.recoveredAborts,
          // Compensate mode: the latest transactions that failed on a shard after another committed, newest first.
          compensations: lists
            .flat()
            .sort((a, b) => a.ageSeconds - b.ageSeconds)
            .slice(0, 100),
          compensationLogsUnreadable: unreadable,
          compensationOutcomes: Object.fromEntries(stats.compensations),
        },
      };
    },
  });
  admin.route({
    method: 'POST',
    path: '/api/transactions/*',
    mutating: true,
    handler: async (req) => {
      const m = /^([A-Za-z0-9_.-]+)\/resolve$/.exec(req.rest);
      if (!m) throw new HttpError(404, 'use POST /api/transactions/<gid>/resolve');
      const body = resolveRequest.safeParse(req.body ?? {});
      if (!body.success) throw new HttpError(400, 'action must be auto, commit or abort');
      try {
        return { json: { gid: m[1], ...(await recovery.resolve(m[1]!, body.data.action)) } };
      } catch (err) {
        throw new HttpError(409, (err as Error).message);
      }
    },
  });
}
