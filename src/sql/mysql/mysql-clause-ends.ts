// The words at which a clause of a top-level MySQL SELECT ends, for the text rewrites that cut
// a statement at its clauses (scatter-rewrite-mysql.ts, mysql-broadcast-sql.ts): each list is the
// words of the clauses that may follow, so the rewrites agree on where a clause stops.

/** Words of the clauses that may follow HAVING. */
const AFTER_HAVING = ['window', 'order', 'limit', 'for', 'lock', 'into', 'union'];

/** Words that end a FROM list. */
export const FROM_LIST_ENDS = new Set(['where', 'group', 'having', ...AFTER_HAVING]);

/** Words that end a select list. */
export const SELECT_LIST_ENDS = new Set(['from', ...FROM_LIST_ENDS]);

/** Words that end a HAVING clause. */
export const HAVING_ENDS = new Set([...AFTER_HAVING, 'intersect', 'except']);
