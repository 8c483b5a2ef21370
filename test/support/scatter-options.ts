// Scatter-rewrite options of a statement with no avg() to split, HAVING or window to hide: only
// the per-shard LIMIT varies (shared by the PostgreSQL and MySQL rewrite tests).
import type { ScatterRewrite } from '../../src/sql/facts.js';

export function limitOnly(limit: number | null): ScatterRewrite {
  return { limit, avgColumns: [] };
}
