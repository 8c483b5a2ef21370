// The end of a quoted body, as both SQL lexers (fingerprint.ts, mysql/mysql-lexer.ts) find it:
// one scanner, so PostgreSQL and MySQL agree on doubled quotes and backslash escapes.

/**
 * Index of the closing quote of the body opened at `open` (the text end if none). The quote is
 * the character at `open`; doubled, it stands for itself; with `backslash`, `\` escapes the next
 * character.
 */
export function quotedBodyEnd(sql: string, open: number, backslash: boolean): number {
  const q = sql.charCodeAt(open);
  const n = sql.length;
  let j = open + 1;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (c === q) {
      if (sql.charCodeAt(j + 1) === q) {
        j += 2;
        continue;
      }
      return j;
    }
    j += backslash && c === 92 ? 2 : 1;
  }
  return n;
}
