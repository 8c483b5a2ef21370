// /api/cache: the result cache's figures and policies; POST /api/cache/clear drops every entry.
import type { PgResultCache } from '../cache/pg-result-cache.js';
import type { AdminServer } from './http.js';

export function registerCacheRoutes(admin: AdminServer, cache: PgResultCache): void {
  admin.route({
    method: 'GET',
    path: '/api/cache',
    handler: () => {
      const stats = cache.store.stats();
      const lookups = stats.hits + stats.misses;
      return {
        json: {
          ...stats,
          hitRatio: lookups > 0 ? stats.hits / lookups : null,
          tables: cache.policies(),
          // The Redis tier's figures (never its URL), or null when none is configured.
          shared: cache.sharedStats(),
        },
      };
    },
  });
  admin.route({
    method: 'POST',
    path: '/api/cache/clear',
    mutating: true,
    handler: () => ({ json: { cleared: cache.store.clear() } }),
  });
}
