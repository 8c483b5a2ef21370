// A "unit" is what shardgate routes as one: a simple Query message, or the extended-protocol
// messages up to and including Sync (or Flush). A Sync-terminated batch runs as one implicit
// transaction on one server, so it must go to one place.

export const FE = {
  Query: 0x51, // Q
  Parse: 0x50, // P
  Bind: 0x42, // B
  Describe: 0x44, // D
  Execute: 0x45, // E
  Close: 0x43, // C
  Sync: 0x53, // S
  Flush: 0x48, // H
  Terminate: 0x58, // X
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  FunctionCall: 0x46, // F
  Password: 0x70, // p
} as const;

export interface UnitFrame {
  type: number;
  /** The message bytes, header included (a view; copied when the unit is queued). */
  bytes: Buffer;
}

export interface Unit {
  frames: UnitFrame[];
  /** Simple query unit. */
  simple: boolean;
  /** Ends with Flush rather than Sync: no ReadyForQuery will follow. */
  flushOnly: boolean;
}

/** Reads a NUL-terminated string at `pos`; returns [value, next position]. */
export function readCString(buf: Buffer, pos: number, end: number): [string, number] {
  const nul = buf.indexOf(0, pos);
  if (nul < 0 || nul >= end) throw new RangeError('unterminated string');
  return [buf.toString('utf8', pos, nul), nul + 1];
}
