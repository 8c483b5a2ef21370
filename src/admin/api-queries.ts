// /api/queries: per-statement statistics across shards (like pg_stat_statements), top N by total
// time, calls, mean time, rows or errors; POST /api/queries/reset starts them afresh.
import type { StatementSort, StatementStats } from '../observability/statement-stats.js';
import { type AdminServer, HttpError } from './http.js';

const SORTS: readonly StatementSort[] = ['total', 'calls', 'mean', 'rows', 'errors'];

export function registerQueryRoutes(admin: AdminServer, stats: StatementStats): void {
  admin.route({
    method: 'GET',
    path: '/api/queries',
    handler: (req) => {
      const sort = (req.query.get('sort') ?? 'total') as StatementSort;
      if (!SORTS.includes(sort)) throw new HttpError(400, `sort must be one of ${SORTS.join(', ')}`);
      const limit = Math.min(1000, Math.max(1, Number(req.query.get('limit') ?? 50) || 50));
      return { json: { ...stats.stats(), sort, queries: stats.top(limit, sort) } };
    },
  });
  admin.route({
    method: 'POST',
    path: '/api/queries/reset',
    mutating: true,
    handler: () => {
      stats.reset();
      return { json: { reset: true } };
    },
  });
}
