// The walk under every parse-tree visit of both dialects (node-sql-parser's MySQL AST, libpg_query's
// PostgreSQL tree): iterative, so deep expressions cannot overflow the stack.

/**
 * Every object below `roots`, arrays looked through, depth first. `step` says what to do with one:
 * 'skip' it (a subquery), 'enter' its properties, or go on with another object instead (a typed
 * node's body). The MySQL parser's `loc` positions are never entered.
 */
export function walkTree(roots: unknown[], step: (node: object) => 'skip' | 'enter' | object): void {
  const stack: unknown[] = [...roots];
  while (stack.length > 0) {
    const cur = stack.pop();
    if (!cur || typeof cur !== 'object') continue;
    if (Array.isArray(cur)) {
      for (const x of cur) stack.push(x);
      continue;
    }
    const next = step(cur);
    if (next === 'skip') continue;
    if (next !== 'enter') {
      stack.push(next);
      continue;
    }
    for (const k in cur) {
      if (k === 'loc') continue;
      const v = (cur as Record<string, unknown>)[k];
      if (v && typeof v === 'object') stack.push(v);
    }
  }
}
