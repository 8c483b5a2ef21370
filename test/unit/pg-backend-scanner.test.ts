import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { readCommandTag, readErrorCode } from '../../src/protocol/postgres/backend-decoders.js';
import {
  BIND_COMPLETE,
  encodeCommandComplete,
  encodeCopyOutResponse,
  encodeDataRow,
  encodeErrorResponse,
  encodeNotificationResponse,
  encodeParameterStatus,
  encodeReadyForQuery,
  encodeTextRowDescription,
  PARSE_COMPLETE,
} from '../../src/protocol/postgres/backend-messages.js';
import { BackendScanner } from '../../src/protocol/postgres/backend-scanner.js';
import { forRandomSplits } from '../support/unit-random-splits.js';

interface Event {
  type: string;
  body: string;
  /** Absolute stream offset just past the message. */
  endAt: number;
}

/** Scans the pieces; returns the events with chunk-relative ends made absolute. */
function scanAll(pieces: Buffer[], types?: number[]): { events: Event[]; scanner: BackendScanner } {
  const events: Event[] = [];
  let offset = 0;
  const scanner = new BackendScanner(
    {
      onMessage(type, buf, bodyStart, end, endInChunk) {
        events.push({
          type: String.fromCharCode(type),
          body: buf.toString('hex', bodyStart, end),
          endAt: offset + endInChunk,
        });
      },
    },
    types ? { types } : {},
  );
  for (const p of pieces) {
    scanner.scan(p);
    offset += p.length;
  }
  return { events, scanner };
}

const messages = [
  encodeParameterStatus('TimeZone', 'UTC'),
  PARSE_COMPLETE,
  BIND_COMPLETE,
  encodeTextRowDescription(['a', 'b']),
  encodeDataRow(['1', 'x'.repeat(200)]),
  encodeDataRow([null, '']),
  encodeCommandComplete('SELECT 2'),
  encodeNotificationResponse(42, 'chan', 'payload'),
  encodeErrorResponse({ severity: 'ERROR', code: '23505', message: 'duplicate' }),
  encodeCopyOutResponse({ format: 0, columnFormats: [0] }),
  encodeReadyForQuery('E'),
  encodeReadyForQuery('I'),
];
const stream = Buffer.concat(messages);
const expected: Event[] = [];
{
  let at = 0;
  for (const m of messages) {
    at += m.length;
    const type = String.fromCharCode(m[0]!);
    if ('ZECSAGHW'.includes(type)) expected.push({ type, body: m.toString('hex', 5), endAt: at });
  }
}

describe('BackendScanner', () => {
  it('reports the session-relevant messages of a whole chunk, as views into it', () => {
    const seen: Buffer[] = [];
    const scanner = new BackendScanner({ onMessage: (_t, buf) => seen.push(buf) });
    scanner.scan(stream);
    expect(seen.every((b) => b === stream)).toBe(true);
    expect(scanAll([stream]).events).toEqual(expected);
    expect(scanner.atBoundary).toBe(true);
    expect(scanner.messageCount).toBe(messages.length);
  });

  it('gives the same events for the stream split at every byte boundary', () => {
    for (let i = 0; i <= stream.length; i++) {
      const { events, scanner } = scanAll([stream.subarray(0, i), stream.subarray(i)]);
      expect(events).toEqual(expected);
      expect(scanner.atBoundary).toBe(true);
      expect(scanner.messageCount).toBe(messages.length);
    }
  });

  it('gives the same events one byte at a time (ReadyForQuery status in its own chunk)', () => {
    expect(scanAll([...stream].map((b) => Buffer.from([b]))).events).toEqual(expected);
  });

  it('gives the same events for random splits (property)', () => {
    forRandomSplits(stream, 50, (pieces) => expect(scanAll(pieces).events).toEqual(expected));
  });

  it('reports only the requested types, and the helpers read their bodies', () => {
    const tags: string[] = [];
    const codes: string[] = [];
    const scanner = new BackendScanner(
      {
        onMessage(type, buf, bodyStart, end) {
          if (type === 0x43) tags.push(readCommandTag(buf, bodyStart, end));
          if (type === 0x45) codes.push(readErrorCode(buf, bodyStart, end));
        },
      },
      { types: [0x43, 0x45] },
    );
    scanner.scan(stream.subarray(0, 300));
    scanner.scan(stream.subarray(300));
    expect(tags).toEqual(['SELECT 2']);
    expect(codes).toEqual(['23505']);
  });

  it('is mid-message (atBoundary false) inside a split message', () => {
    const { scanner } = scanAll([stream.subarray(0, 3)]);
    expect(scanner.atBoundary).toBe(false);
  });
});

describe('BackendScanner rejects a corrupt stream', () => {
  const sink = { onMessage: () => undefined };
  it('unknown type or length below 4', () => {
    expect(() => new BackendScanner(sink).scan(Buffer.from('7a00000004', 'hex'))).toThrow(ShardgateError);
    expect(() => new BackendScanner(sink).scan(Buffer.from('5a00000003', 'hex'))).toThrow(ShardgateError);
    const split = new BackendScanner(sink);
    split.scan(Buffer.from('5a00', 'hex'));
    expect(() => split.scan(Buffer.from('000002', 'hex'))).toThrow(ShardgateError);
  });
  it('a reported message above the capture limit', () => {
    const s = new BackendScanner(sink, { maxReportedBody: 10 });
    expect(() =>
      s.scan(
        encodeErrorResponse({ severity: 'ERROR', code: 'XX000', message: 'long message' }).subarray(0, 8),
      ),
    ).toThrow(ShardgateError);
    // Unreported bodies are skipped however large they are.
    const big = encodeDataRow(['y'.repeat(100)]);
    const s2 = new BackendScanner(sink, { maxReportedBody: 10 });
    s2.scan(big.subarray(0, 20));
    s2.scan(big.subarray(20));
    expect(s2.atBoundary).toBe(true);
  });
  it('arbitrary bytes never throw anything but ShardgateError (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const s = new BackendScanner(sink, { maxReportedBody: 1 << 16 });
        try {
          for (const c of chunks) s.scan(Buffer.from(c));
        } catch (err) {
          expect(err).toBeInstanceOf(ShardgateError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
