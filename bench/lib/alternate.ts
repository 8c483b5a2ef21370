// Target alternation: within one repeat every target runs once; between repeats the order
// rotates (A B C, B C A, C A B, ...), so slow drift of the machine (other work, thermal, cache
// warmth) is spread over all targets instead of always hitting the one that runs last.

/** The order of targets for repeat number `repeat` (0-based). */
export function rotation<T>(targets: readonly T[], repeat: number): T[] {
  const n = targets.length;
  if (n === 0) return [];
  const shift = ((repeat % n) + n) % n;
  return [...targets.slice(shift), ...targets.slice(0, shift)];
}

/** Every repeat's order, repeats >= 0. */
export function schedule<T>(targets: readonly T[], repeats: number): T[][] {
  const out: T[][] = [];
  for (let r = 0; r < Math.max(0, Math.floor(repeats)); r++) out.push(rotation(targets, r));
  return out;
}
