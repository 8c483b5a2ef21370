// /api/transactions: cross-shard transactions. GET lists what is in doubt on the servers of both
// protocols (prepared on a server, waiting for recovery) with the counters, and the compensate-mode
// transactions that were undone or are being decided (`compensations`); POST /api/transactions/<gid>/resolve (body
// {"action": "auto" | "commit" | "abort"}) resolves one from the decision log now; for a compensate-mode
// id (sgcomp_...) "auto" runs its recovery now and "repaired" ends one an operator repaired by hand. Both need the
// admin token (transaction ids and server names are operator data). `shardgate txn` is a client.
import { z } from 'zod';
import {
  COMPENSATION_ID_PREFIX,
  type CompensationRecovery,
  type CompensationStore,
} from '../transactions/compensating.js';
import type { RecoveryGroup } from '../transactions/recovery-group.js';
import type { TwoPhaseStats } from '../transactions/stats.js';
import { type AdminServer, HttpError } from './http.js';

const resolveRequest = z.object({
  action: z.enum(['auto', 'commit', 'abort', 'repaired']).default('auto'),
});

export function registerTransactionRoutes(
  admin: AdminServer,
  recovery: RecoveryGroup,
  stats: TwoPhaseStats,
  compensations: ReadonlyArray<{
    protocol: string;
    store: CompensationStore;
    recovery: CompensationRecovery | null;
  }>,
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
      if (!body.success) throw new HttpError(400, 'action must be auto, commit, abort or repaired');
      const { action } = body.data;
      const id = m[1]!;
      if (id.startsWith(COMPENSATION_ID_PREFIX)) return { json: await resolveCompensation(id, action) };
      if (action === 'repaired')
        throw new HttpError(400, 'repaired is for compensate-mode transactions (sgcomp_...)');
      try {
        return { json: { gid: id, ...(await recovery.resolve(id, action)) } };
      } catch (err) {
        throw new HttpError(409, (err as Error).message);
      }
    },
  });

  /** The protocol whose log holds `id` resolves it (its recovery runs where this API does). */
  async function resolveCompensation(id: string, action: 'auto' | 'commit' | 'abort' | 'repaired') {
    if (action === 'commit' || action === 'abort')
      throw new HttpError(
        400,
        `${id} is a compensate-mode transaction: resolve it with auto (run its recovery now) or repaired`,
      );
    for (const { protocol, store, recovery: own } of compensations) {
      if (!own || !(await store.get(id).catch(() => null))) continue;
      try {
        return { gid: id, protocol, compensation: await own.resolve(id, action) };
      } catch (err) {
        throw new HttpError(409, (err as Error).message);
      }
    }
    throw new HttpError(404, `no compensation log knows ${id}`);
  }
}
