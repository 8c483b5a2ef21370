// A MergeSpec for executor tests: nothing to merge but what `over` sets.
import type { MergeSpec } from '../../src/router/plan.js';

export function mergeSpec(over: Partial<MergeSpec> = {}): MergeSpec {
  return {
    orderBy: [],
    groupBy: [],
    aggregates: [],
    offset: 0,
    limit: null,
    distinct: false,
    visibleColumns: null,
    ...over,
  };
}
