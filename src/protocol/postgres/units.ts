// A "unit" is what shardgate routes as one: a simple Query message, or the extended-protocol
// messages up to and including Sync (or Flush). A Sync-terminated batch runs as one implicit
// transaction on one server, so it must go to one place.

/** Frontend message type bytes (one table, in frontend-messages.ts). */
export { FE_TYPE as FE } from './frontend-messages.js';

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
  /** Written to a server connection (server-binding.ts); a cancel then goes to that server. */
  sent: boolean;
  /** The client cancelled it before it reached a server: answered 57014, or cancelled once sent. */
  cancelRequested: boolean;
}

/** A unit as queued: not sent, not cancelled (every unit has one shape, for the engine's sake). */
export function newUnit(frames: UnitFrame[], simple: boolean, flushOnly = false): Unit {
  return { frames, simple, flushOnly, sent: false, cancelRequested: false };
}

/** Reads a NUL-terminated string at `pos`; returns [value, next position]. */
export function readCString(buf: Buffer, pos: number, end: number): [string, number] {
  const nul = buf.indexOf(0, pos);
  if (nul < 0 || nul >= end) throw new RangeError('unterminated string');
  return [buf.toString('utf8', pos, nul), nul + 1];
}
