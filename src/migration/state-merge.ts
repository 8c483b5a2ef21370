// A migration's state is held in memory by several writers at once: the run, an operator's verify,
// cleanup or rollback (each with the copy it read when it began, held across long awaits), and
// the MySQL reverse captures' checkpoints, which save newer positions meanwhile. A save writes
// back only what its writer changed since its copy was read; every other field keeps the file's
// value, which may be newer (an older reverse position written back makes a restarted capture
// replay from a point the binlog may no longer hold).

type Fields = Record<string, unknown>;

/** Fields merged one level deeper: their parts have different writers (the copy, the reverse capture). */
const NESTED: ReadonlySet<string> = new Set(['mysql']);

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const isFields = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Brings into `mine` every field of `current` (the file now) that `mine` left as it was in `base`
 * (the file when `mine` was read or last saved). History is append-only: the entries `mine` added
 * go after the file's.
 */
export function keepNewerFields(mine: Fields, base: Fields, current: Fields): void {
  mergeFields(mine, base, current, NESTED);
  const own = Array.isArray(mine.history) ? mine.history : [];
  const before = Array.isArray(base.history) ? base.history.length : 0;
  if (Array.isArray(current.history)) mine.history = [...current.history, ...own.slice(before)];
}

/**
 * Values are replaced only where the file holds something else: the run keeps references into its
 * state (a source's copy checkpoints), which must stay attached while nobody else wrote there.
 */
function mergeFields(mine: Fields, base: Fields, current: Fields, nested: ReadonlySet<string>): void {
  for (const key of new Set([...Object.keys(current), ...Object.keys(base)])) {
    if (key === 'history') continue;
    const [m, b, c] = [mine[key], base[key], current[key]];
    // Parts with their own writers: merged in place, part by part.
    if (nested.has(key) && isFields(m) && isFields(c)) {
      mergeFields(m, isFields(b) ? b : {}, c, new Set());
      continue;
    }
    // Changed by this writer (its value wins), or nothing newer in the file.
    if (!same(m, b) || same(m, c)) continue;
    if (key in current) mine[key] = c;
    else delete mine[key];
  }
}
