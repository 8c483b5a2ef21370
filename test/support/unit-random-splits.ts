// Property check for stream decoders: whatever byte boundaries the input arrives in, the
// decoder must see the same thing. fast-check picks the cut points (and shrinks a failure).
import fc from 'fast-check';

/** `stream` cut into consecutive pieces at the sorted `cuts` (each strictly inside the stream). */
export function cutAt(stream: Buffer, cuts: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let last = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    pieces.push(stream.subarray(last, c));
    last = c;
  }
  pieces.push(stream.subarray(last));
  return pieces;
}

/** Runs `check` on `runs` random splits of `stream` into at most `maxCuts + 1` pieces. */
export function forRandomSplits(
  stream: Buffer,
  maxCuts: number,
  check: (pieces: Buffer[]) => void,
  runs = 300,
): void {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: maxCuts }),
      (cuts) => {
        check(cutAt(stream, cuts));
      },
    ),
    { numRuns: runs },
  );
}
