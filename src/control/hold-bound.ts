// The bound of a fenced cutover's hold (docs/control-plane.md, "Fenced cutover", F6): every
// instance holds the range at most `migration.fencedCutoverDeadlineMs`, measured from when it
// started holding. Pure.

/** Kept for the compare-and-swap that decides a hold at the deadline: its answer ends the hold. */
const DECIDE_MARGIN_MS = 50;

/**
 * When a hold is decided at the latest, from when an instance started holding: the bound less
 * the margin (a fifth of the bound for small ones). A member decides then by itself (abort, by
 * compare-and-swap); the controller's block has the same deadline, so its commit is normally
 * sent before the members' own timers fire.
 */
export function decideWithinMs(boundMs: number): number {
  return Math.max(1, boundMs - Math.min(DECIDE_MARGIN_MS, Math.floor(boundMs / 5)));
}

/**
 * The grace in-flight writes get in a fenced block: `inflightGraceMs`, but at most two fifths of
 * the time to the decision, so a transaction still open gets 40001 with time left for the drain
 * and the catch-up, instead of holding the block until it aborts.
 */
export function fencedGraceMs(inflightGraceMs: number, boundMs: number): number {
  return Math.min(inflightGraceMs, Math.floor((decideWithinMs(boundMs) * 2) / 5));
}
