import { describe, expect, it } from 'vitest';
import { Expect, ResponseTracker } from '../../src/protocol/postgres/response-tracker.js';

function msg(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeUInt32BE(b.length + 4, 1);
  return Buffer.concat([head, b]);
}
const parseComplete = msg('1');
const bindComplete = msg('2');
const noData = msg('n');
const ready = (s: string) => msg('Z', s);
const complete = (tag: string) => msg('C', `${tag}\0`);
const dataRow = (v: string) => {
  const b = Buffer.alloc(2 + 4 + v.length);
  b.writeInt16BE(1, 0);
  b.writeInt32BE(v.length, 2);
  b.write(v, 6);
  return msg('D', b);
};
const error = msg('E', 'SERROR\0C42P01\0Mno such table\0\0');

function run(entries: Array<Parameters<ResponseTracker['push']>[0]>, stream: Buffer, split: number[]) {
  const out: Buffer[] = [];
  let idleCount = 0;
  const t = new ResponseTracker({ forward: (b) => out.push(Buffer.from(b)), onIdle: () => idleCount++ });
  for (const e of entries) t.push(e);
  t.flushSynthetic();
  let prev = 0;
  for (const s of [...split, stream.length]) {
    if (s > prev) t.onData(stream.subarray(prev, s));
    prev = s;
  }
  return { out: Buffer.concat(out), idle: t.idle, idleCount, status: String.fromCharCode(t.status) };
}

describe('ResponseTracker', () => {
  const fastStream = Buffer.concat([
    msg('T', Buffer.from([0, 0])),
    dataRow('x'),
    complete('SELECT 1'),
    ready('I'),
  ]);

  it('forwards a fast unit untouched at every split point', () => {
    for (let i = 0; i <= fastStream.length; i++) {
      const r = run([{ expect: Expect.Fast, swallow: false }], fastStream, [i]);
      expect(r.out.equals(fastStream)).toBe(true);
      expect(r.idle).toBe(true);
      expect(r.status).toBe('I');
    }
  });

  it('forwards a fast unit that arrives in one chunk as one buffer, and still reads its tag and status', () => {
    for (const expectKind of [Expect.Fast, Expect.Query]) {
      const out: Buffer[] = [];
      const tags: string[] = [];
      let idle = 0;
      const t = new ResponseTracker({
        forward: (b) => out.push(Buffer.from(b)),
        onMessage: (type, buf, start, end) => {
          if (type === 0x43) tags.push(buf.toString('latin1', start, end - 1));
        },
        onIdle: () => idle++,
      });
      t.push({ expect: expectKind, swallow: false });
      t.onData(Buffer.concat([fastStream.subarray(0, fastStream.length - 6), ready('T')]));
      expect(out).toHaveLength(1);
      expect(tags).toEqual(['SELECT 1']);
      expect(String.fromCharCode(t.status)).toBe('T');
      expect(idle).toBe(1);
    }
  });

  it('emits a synthetic ParseComplete in order and swallows an injected Parse reply', () => {
    const entries = [
      { expect: Expect.Synthetic, swallow: false, bytes: parseComplete },
      { expect: Expect.Parse, swallow: true },
      { expect: Expect.Bind, swallow: false },
      { expect: Expect.DescribePortal, swallow: false },
      { expect: Expect.Execute, swallow: false },
      { expect: Expect.Sync, swallow: false },
    ];
    const server = Buffer.concat([parseComplete, bindComplete, noData, complete('INSERT 0 1'), ready('T')]);
    const expected = Buffer.concat([parseComplete, bindComplete, noData, complete('INSERT 0 1'), ready('T')]);
    for (let i = 0; i <= server.length; i++) {
      for (const j of [i, Math.min(server.length, i + 3)]) {
        const r = run(entries, server, [i, j]);
        expect(r.out.equals(expected)).toBe(true);
        expect(r.idle).toBe(true);
        expect(r.status).toBe('T');
      }
    }
  });

  it('skips to Sync after an error and drops synthetic replies behind it', () => {
    const entries = [
      { expect: Expect.Parse, swallow: false },
      { expect: Expect.Synthetic, swallow: false, bytes: parseComplete },
      { expect: Expect.Bind, swallow: false },
      { expect: Expect.Execute, swallow: false },
      { expect: Expect.Sync, swallow: false },
    ];
    const server = Buffer.concat([error, ready('I')]);
    const r = run(entries, server, [3]);
    expect(r.out.equals(server)).toBe(true);
    expect(r.idle).toBe(true);
  });

  it('swallows a probe query but captures its value', () => {
    let captured: string | null = null;
    const entries = [
      { expect: Expect.Fast, swallow: false },
      { expect: Expect.Query, swallow: true, capture: (v: string | null) => (captured = v) },
    ];
    const probe = Buffer.concat([
      msg('T', Buffer.from([0, 0])),
      dataRow('0/16B3748'),
      complete('SELECT 1'),
      ready('I'),
    ]);
    const server = Buffer.concat([complete('INSERT 0 1'), ready('I'), probe]);
    const r = run(entries, server, [7, 20]);
    expect(r.out.equals(Buffer.concat([complete('INSERT 0 1'), ready('I')]))).toBe(true);
    expect(captured).toBe('0/16B3748');
    expect(r.idle).toBe(true);
  });

  it('passes asynchronous messages through in place', () => {
    const notice = msg('N', 'SNOTICE\0Mhi\0\0');
    const server = Buffer.concat([notice, complete('SELECT 0'), ready('I')]);
    const r = run([{ expect: Expect.Query, swallow: false }], server, [2]);
    expect(r.out.equals(server)).toBe(true);
  });

  it('reports requests that failed or were skipped; a ReadyForQuery ends a unit a Flush error left skipping', () => {
    const failed: string[] = [];
    const out: Buffer[] = [];
    const t = new ResponseTracker({ forward: (b) => out.push(Buffer.from(b)) });
    // Unit 1 (Parse, Describe, Flush): the Parse fails, the Describe is skipped.
    t.push({
      expect: Expect.Parse,
      swallow: false,
      onFailed: (e) => failed.push(e ? 'parse:error' : 'parse:skip'),
    });
    t.push({
      expect: Expect.DescribeStatement,
      swallow: false,
      onFailed: (e) => failed.push(e ? 'd:error' : 'd:skip'),
    });
    t.flushSynthetic();
    t.onData(error);
    expect(failed).toEqual(['parse:error', 'd:skip']);
    expect(t.idle).toBe(true);
    // Unit 2 (Bind, Execute, Sync): the server skips to the Sync and answers only ReadyForQuery.
    t.push({ expect: Expect.Bind, swallow: false, onFailed: (e) => failed.push(e ? 'b:error' : 'b:skip') });
    t.push({
      expect: Expect.Synthetic,
      swallow: false,
      bytes: parseComplete,
      onFailed: () => failed.push('syn:skip'),
    });
    t.push({ expect: Expect.Execute, swallow: false });
    t.push({ expect: Expect.Sync, swallow: false });
    t.flushSynthetic();
    t.onData(ready('I'));
    expect(failed).toEqual(['parse:error', 'd:skip', 'b:skip', 'syn:skip']);
    expect(t.idle).toBe(true);
    expect(Buffer.concat(out).equals(Buffer.concat([error, ready('I')]))).toBe(true);
  });

  it('notices a FATAL it forwards (the server is about to close)', () => {
    const t = new ResponseTracker({ forward: () => undefined });
    t.onData(msg('E', 'SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0'));
    expect(t.fatalForwarded).toBe(true);
  });
});
