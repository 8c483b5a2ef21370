// The start of a read's response (ParseComplete, BindComplete, ParameterDescription,
// RowDescription, NoData) that may reach the client before its server is lost. A read run again
// on another server drops the same bytes from its own response, so the client sees one clean
// result; a row, a completion, an error or any difference ends the chance to run it again.
// Only units eligible for a retry are walked, and only until their first row: the rest of the
// response is forwarded untouched.

/** '1' ParseComplete, '2' BindComplete, 't' ParameterDescription, 'T' RowDescription, 'n' NoData. */
const PREAMBLE_TYPES = new Set([0x31, 0x32, 0x74, 0x54, 0x6e]);
/** A longer preamble is not kept (a retry is then refused, never wrong). */
const MAX_PREAMBLE_BYTES = 65_536;

export class ReadPreamble {
  /** Still inside the preamble: forwarded chunks go through filter(). */
  open = false;
  /** Something beyond the preamble reached the client (or it was too long to keep). */
  passed = true;
  /** The run-again response differed from what the client already has. */
  mismatch = false;
  private parts: Buffer[] = [];
  private bytes = 0;
  private skip: Buffer | null = null;
  private skipAt = 0;

  /** Starts a unit; `inherited` is the preamble the client saw from a lost earlier run. */
  begin(eligible: boolean, inherited: Buffer | null): void {
    this.open = eligible;
    this.passed = !eligible;
    this.mismatch = false;
    this.parts = inherited ? [inherited] : [];
    this.bytes = inherited?.length ?? 0;
    this.skip = inherited;
    this.skipAt = 0;
  }

  /** What the client has seen of this unit's response (bytes of whole messages). */
  seen(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
  }

  /**
   * The part of `chunk` (whole messages) to forward, dropping what the client already has;
   * null on a difference (nothing more may be forwarded for this unit).
   */
  filter(chunk: Buffer): Buffer | null {
    let pos = 0;
    while (pos + 5 <= chunk.length) {
      const end = pos + 1 + chunk.readUInt32BE(pos + 1);
      if (!PREAMBLE_TYPES.has(chunk[pos]!) || end > chunk.length) {
        this.open = false;
        break;
      }
      pos = end;
    }
    let dropped = 0;
    if (this.skip) {
      const n = Math.min(pos, this.skip.length - this.skipAt);
      if (!chunk.subarray(0, n).equals(this.skip.subarray(this.skipAt, this.skipAt + n))) {
        this.mismatch = true;
        this.passed = true;
        return null;
      }
      this.skipAt += n;
      dropped = n;
      if (this.skipAt === this.skip.length) this.skip = null;
      else if (!this.open) {
        // A row before the old preamble was matched: the two runs answered differently.
        this.mismatch = true;
        this.passed = true;
        return null;
      }
    }
    if (pos > dropped) {
      this.parts.push(chunk.subarray(dropped, pos));
      this.bytes += pos - dropped;
      if (this.bytes > MAX_PREAMBLE_BYTES) this.open = false;
    }
    if (!this.open) this.passed = true;
    return dropped === 0 ? chunk : chunk.subarray(dropped);
  }
}
