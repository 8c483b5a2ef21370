// The preamble of a read run again after its server was lost: what the client already has is
// dropped from the new run's response, byte for byte, however the response is chunked.
import { describe, expect, it } from 'vitest';
import {
  BIND_COMPLETE,
  encodeCommandComplete,
  encodeDataRow,
  encodeTextRowDescription,
  PARSE_COMPLETE,
} from '../../src/protocol/postgres/backend-messages.js';
import { ReadPreamble } from '../../src/protocol/postgres/read-preamble.js';

const head = Buffer.concat([PARSE_COMPLETE, BIND_COMPLETE, encodeTextRowDescription(['n'])]);
const rows = Buffer.concat([encodeDataRow(['42']), encodeCommandComplete('SELECT 1')]);

/** Splits at message boundaries after the given messages (the tracker forwards whole messages). */
function messages(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const end = pos + 1 + buf.readUInt32BE(pos + 1);
    out.push(buf.subarray(pos, end));
    pos = end;
  }
  return out;
}

describe('ReadPreamble', () => {
  it('keeps the preamble the client saw and closes at the first row', () => {
    const p = new ReadPreamble();
    p.begin(true, null);
    expect(p.filter(head)).toEqual(head);
    expect(p.open).toBe(true);
    expect(p.passed).toBe(false);
    expect(p.seen()).toEqual(head);
    expect(p.filter(rows)).toEqual(rows);
    expect(p.open).toBe(false);
    expect(p.passed).toBe(true);
  });

  it('drops what the client already has from a second run, at every chunking', () => {
    const all = messages(Buffer.concat([head, rows]));
    for (let cut = 1; cut < all.length; cut++) {
      const p = new ReadPreamble();
      p.begin(true, head);
      const out = [p.filter(Buffer.concat(all.slice(0, cut))), p.filter(Buffer.concat(all.slice(cut)))];
      expect(Buffer.concat(out as Buffer[])).toEqual(rows);
      expect(p.mismatch).toBe(false);
    }
  });

  it('refuses a second run that describes different columns', () => {
    const p = new ReadPreamble();
    p.begin(true, head);
    const other = Buffer.concat([PARSE_COMPLETE, BIND_COMPLETE, encodeTextRowDescription(['m'])]);
    expect(p.filter(other)).toBeNull();
    expect(p.mismatch).toBe(true);
    expect(p.passed).toBe(true);
  });

  it('refuses a second run whose rows start before the old preamble ends', () => {
    const p = new ReadPreamble();
    p.begin(true, head);
    expect(p.filter(Buffer.concat([PARSE_COMPLETE, rows]))).toBeNull();
    expect(p.passed).toBe(true);
  });

  it('is never open for a unit that may not be run again', () => {
    const p = new ReadPreamble();
    p.begin(false, null);
    expect(p.open).toBe(false);
    expect(p.passed).toBe(true);
  });
});
