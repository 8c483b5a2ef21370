import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import {
  encodeBind,
  encodeCopyData,
  encodeExecute,
  encodeParse,
  encodeQuery,
  encodeSSLRequest,
  encodeStartupMessage,
  encodeSync,
  encodeTerminate,
} from '../../src/protocol/postgres/frontend-encoders.js';
import { FrontendFramer } from '../../src/protocol/postgres/frontend-framer.js';
import { forRandomSplits } from '../support/unit-random-splits.js';

interface Seen {
  type: number;
  bytes: string;
  body: string;
}

/** Feeds the pieces and collects every frame (copied, since the Frame object is reused). */
function frameAll(pieces: Buffer[], max = 1 << 20): Seen[] {
  const framer = new FrontendFramer({ maxMessageBytes: max });
  const out: Seen[] = [];
  for (const p of pieces) {
    framer.push(p);
    for (let f = framer.next(); f; f = framer.next()) {
      out.push({
        type: f.type,
        bytes: f.buf.toString('hex', f.start, f.end),
        body: f.buf.toString('hex', f.bodyStart, f.end),
      });
    }
  }
  expect(framer.buffered).toBe(0);
  return out;
}

const startup = encodeStartupMessage({ user: 'alice', database: 'app' });
const typed = [
  encodeQuery('select 1'),
  encodeParse({ name: '', query: 'select $1', paramTypes: [23] }),
  encodeBind({ portal: '', statement: '', paramFormats: [], values: [Buffer.from('7')], resultFormats: [] }),
  encodeExecute({ portal: '', maxRows: 0 }),
  encodeSync(),
  encodeCopyData(Buffer.alloc(300, 0x61)),
  encodeTerminate(),
];
const stream = Buffer.concat([encodeSSLRequest(), startup, ...typed]);
const expected: Seen[] = [
  { type: 0, bytes: encodeSSLRequest().toString('hex'), body: '04d2162f' },
  { type: 0, bytes: startup.toString('hex'), body: startup.toString('hex', 4) },
  ...typed.map((m) => ({ type: m[0]!, bytes: m.toString('hex'), body: m.toString('hex', 5) })),
];

describe('FrontendFramer', () => {
  it('frames a whole stream in one chunk, switching phase after the StartupMessage', () => {
    expect(frameAll([stream])).toEqual(expected);
  });

  it('gives the same frames for the stream split at every byte boundary', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(frameAll([stream.subarray(0, i), stream.subarray(i)])).toEqual(expected);
    }
  });

  it('gives the same frames fed one byte at a time', () => {
    const pieces = [...stream].map((b) => Buffer.from([b]));
    expect(frameAll(pieces)).toEqual(expected);
  });

  it('gives the same frames for random splits (property)', () => {
    forRandomSplits(stream, 40, (pieces) => expect(frameAll(pieces)).toEqual(expected));
  });

  it('references whole messages without copying and reports the batch range', () => {
    const framer = new FrontendFramer({ maxMessageBytes: 1 << 20, startup: false });
    const chunk = Buffer.concat([...typed.slice(0, 5), typed[5]!.subarray(0, 10)]);
    framer.push(chunk);
    let n = 0;
    for (let f = framer.next(); f; f = framer.next()) {
      expect(f.buf).toBe(chunk);
      n++;
    }
    expect(n).toBe(5);
    const range = framer.batchRange()!;
    expect(range.buf).toBe(chunk);
    expect(range.start).toBe(0);
    expect(range.end).toBe(chunk.length - 10);
    // The rest of the CopyData arrives: it is assembled, and the batch range is empty for this chunk.
    framer.push(Buffer.concat([typed[5]!.subarray(10), typed[6]!]));
    const copy = framer.next()!;
    expect(copy.buf.toString('hex', copy.start, copy.end)).toBe(typed[5]!.toString('hex'));
    expect(framer.batchRange()).toBeNull();
    const term = framer.next()!;
    expect(term.type).toBe(0x58);
    expect(framer.batchRange()).toMatchObject({
      start: typed[5]!.length - 10,
      end: typed[5]!.length - 10 + 5,
    });
    expect(framer.next()).toBeNull();
  });

  it('keeps an undrained chunk when more bytes are pushed', () => {
    const framer = new FrontendFramer({ maxMessageBytes: 1 << 20, startup: false });
    framer.push(Buffer.concat([typed[0]!, typed[4]!]));
    expect(framer.next()?.type).toBe(0x51);
    framer.push(typed[6]!);
    expect(framer.next()?.type).toBe(0x53);
    expect(framer.next()?.type).toBe(0x58);
    expect(framer.next()).toBeNull();
  });

  it('frames a Terminate sent before any startup packet as a Terminate', () => {
    const framer = new FrontendFramer({ maxMessageBytes: 1 << 20 });
    framer.push(encodeTerminate());
    expect(framer.next()?.type).toBe(0x58);
    expect(framer.inStartup).toBe(true);
    expect(framer.next()).toBeNull();
  });

  it('stays in the startup phase after SSLRequest and can be switched explicitly', () => {
    const framer = new FrontendFramer({ maxMessageBytes: 1 << 20 });
    framer.push(encodeSSLRequest());
    framer.next();
    expect(framer.inStartup).toBe(true);
    framer.setStartupDone();
    expect(framer.inStartup).toBe(false);
  });
});

function expectError(code: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ShardgateError);
    expect((err as ShardgateError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

function drain(framer: FrontendFramer, bytes: Buffer): void {
  framer.push(bytes);
  while (framer.next());
}

describe('FrontendFramer rejects bad input', () => {
  it('oversized messages, before buffering their body', () => {
    const framer = new FrontendFramer({ maxMessageBytes: 100, startup: false });
    const big = encodeQuery('x'.repeat(200));
    expectError('MESSAGE_TOO_LARGE', () => drain(framer, big.subarray(0, 5)));
    const f2 = new FrontendFramer({ maxMessageBytes: 100, startup: false });
    drain(f2, encodeQuery('x'.repeat(90)));
  });
  it('lengths below 4 and unknown types', () => {
    expectError('PROTOCOL_VIOLATION', () =>
      drain(new FrontendFramer({ maxMessageBytes: 100, startup: false }), Buffer.from('5100000003', 'hex')),
    );
    expectError('PROTOCOL_VIOLATION', () =>
      drain(new FrontendFramer({ maxMessageBytes: 100, startup: false }), Buffer.from('7a00000004', 'hex')),
    );
  });
  it('startup packets that are too short or too long', () => {
    expectError('PROTOCOL_VIOLATION', () =>
      drain(new FrontendFramer({ maxMessageBytes: 1 << 20 }), Buffer.from('00000007', 'hex')),
    );
    expectError('PROTOCOL_VIOLATION', () =>
      drain(new FrontendFramer({ maxMessageBytes: 1 << 20 }), Buffer.from('00002711', 'hex')),
    );
    expectError('PROTOCOL_VIOLATION', () =>
      drain(new FrontendFramer({ maxMessageBytes: 1 << 20 }), Buffer.from('ffffffff', 'hex')),
    );
  });
});
