// Both fingerprints keep ORDER BY / GROUP BY integer positions verbatim (the facts depend on
// them) until the list ends at the next clause; PositionList tracks that for either dialect.

/** Words that end a position list in both dialects; each fingerprint adds its own dialect's clauses. */
export const POSITION_LIST_ENDERS = [
  'limit',
  'offset',
  'for',
  'having',
  'window',
  'union',
  'intersect',
  'except',
  'select',
  'from',
  'where',
  'returning',
  'order',
  'group',
] as const;

/**
 * Where a fingerprint stands in an ORDER BY / GROUP BY list: an integer right after the list's BY
 * or one of its commas, at the list's parenthesis depth, is a position.
 */
export class PositionList {
  /** Parenthesis depth of the open list; -1: none. */
  private listDepth = -1;
  /** The next token stands where a position may. */
  private expectPosition = false;

  /** `enders`: POSITION_LIST_ENDERS and the dialect's own list-ending words. */
  constructor(private readonly enders: ReadonlySet<string>) {}

  /** A word at parenthesis `depth`; `prevWord` is the word just before it ('' after any other token). */
  word(word: string, prevWord: string, depth: number): void {
    if (word === 'by' && (prevWord === 'order' || prevWord === 'group')) {
      this.listDepth = depth;
      this.expectPosition = true;
    } else {
      this.expectPosition = false;
      if (this.listDepth === depth && this.enders.has(word)) this.listDepth = -1;
    }
  }

  /** Whether an integer at `depth` is a position (it is kept; report it with `other()`). */
  isPosition(depth: number): boolean {
    return this.expectPosition && depth === this.listDepth;
  }

  /** A comma at `depth`: true when it separates the list's items, so a position may follow. */
  comma(depth: number): boolean {
    if (this.listDepth !== depth) return false;
    this.expectPosition = true;
    return true;
  }

  /** The `)` that closes parenthesis `depth`: a list open at that depth ends with it. */
  close(depth: number): void {
    if (this.listDepth === depth) this.listDepth = -1;
  }

  /** Any other token: no position right after it. */
  other(): void {
    this.expectPosition = false;
  }

  /** A new statement begins. */
  reset(): void {
    this.listDepth = -1;
    this.expectPosition = false;
  }
}
