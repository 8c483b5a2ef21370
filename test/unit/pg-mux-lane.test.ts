// MuxLane's cutting of the server's stream, on a stand-in connection: no unit the proxy lets into a
// lane can open a transaction through the real protocol (pipelineable() refuses them all), so the
// poisoned-lane path is driven here with the bytes a server would send.
import { describe, expect, it } from 'vitest';
import type { PgPool } from '../../src/backend/pg-pool.js';
import type { PgServerConnection } from '../../src/backend/pg-server-connection.js';
import { type LaneMember, MuxLane, multiplexCounters } from '../../src/protocol/postgres/mux-lane.js';

function msg(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const complete = (tag: string) => msg('C', Buffer.from(`${tag}\0`));
const ready = (status: 'I' | 'T') => msg('Z', Buffer.from(status));

class FakeConn {
  onData: ((chunk: Buffer) => void) | null = null;
  onClose: ((err: Error | null) => void) | null = null;
  closed = false;
  dirty = false;
  destroyed = false;
  readonly prepared = new Map<string, true>();
  readonly socket = { cork() {}, uncork() {} };
  write(): void {}
  destroy(): void {
    // As PgServerConnection: closed first, so the socket's close never reaches onClose.
    this.closed = true;
    this.destroyed = true;
  }
}

class Member implements LaneMember {
  readonly tracker = { idle: true, status: 0x49 };
  readonly touchedStatements = false;
  readonly received: Buffer[] = [];
  lostWith: string | null = null;
  private tail = Buffer.alloc(0);
  receive(chunk: Buffer): void {
    this.received.push(chunk);
    // Idle at its ReadyForQuery (whatever pieces it came in), with the status it carries.
    this.tail = Buffer.concat([this.tail, chunk]).subarray(-6);
    if (this.tail.length === 6 && this.tail[0] === 0x5a) {
      this.tracker.idle = true;
      this.tracker.status = this.tail[5]!;
    }
  }
  serverLost(err: Error | null): void {
    this.lostWith = err?.message ?? 'closed';
  }
  start(): void {
    this.tracker.idle = false;
  }
}

function lane(): { lane: MuxLane; conn: FakeConn } {
  const conn = new FakeConn();
  const pool = { waitingCount: 0 } as unknown as PgPool;
  return { lane: MuxLane.open(pool, conn as unknown as PgServerConnection), conn };
}

describe('MuxLane', () => {
  it('a unit that leaves the server in a transaction poisons the lane: nothing behind it is delivered, every member fails', () => {
    const { lane: l, conn } = lane();
    const [a, b, c] = [new Member(), new Member(), new Member()];
    for (const m of [a, b, c]) l.reserve(m);
    for (const m of [a, b]) {
      m.start();
      l.enter(m);
      l.write(Buffer.from('x'));
    }
    const before = multiplexCounters.poisoned;
    // a's unit ends in a transaction; b's write ran inside it (rolled back when the connection goes).
    conn.onData!(Buffer.concat([complete('SELECT 1'), ready('T'), complete('INSERT 0 1'), ready('T')]));
    expect(multiplexCounters.poisoned).toBe(before + 1);
    expect(b.received).toEqual([]);
    expect(conn.destroyed).toBe(true);
    for (const m of [a, b, c]) expect(m.lostWith).toMatch(/lane poisoned/);
    // The lane is gone: its connection is nobody's, later bytes reach no one.
    expect(l.leave(a)).toBe(true);
  });

  it('alone on its lane, the unit in a transaction keeps the connection', () => {
    const { lane: l, conn } = lane();
    const a = new Member();
    l.reserve(a);
    a.start();
    l.enter(a);
    conn.onData!(Buffer.concat([complete('SELECT 1'), ready('T')]));
    expect(conn.destroyed).toBe(false);
    expect(a.lostWith).toBeNull();
    expect(a.tracker.status).toBe(0x54);
  });

  it('cuts a stream that arrives a byte at a time at each ReadyForQuery, every member its own bytes', () => {
    const { lane: l, conn } = lane();
    const members = [new Member(), new Member(), new Member()];
    const replies = members.map((_, i) => Buffer.concat([complete(`SELECT ${i}`), ready('I')]));
    for (const m of members) {
      l.reserve(m);
      m.start();
      l.enter(m);
    }
    const stream = Buffer.concat(replies);
    for (let i = 0; i < stream.length; i++) conn.onData!(stream.subarray(i, i + 1));
    members.forEach((m, i) => {
      expect(Buffer.concat(m.received).equals(replies[i]!)).toBe(true);
      expect(m.tracker.idle).toBe(true);
    });
  });

  it('passes a large message on as it arrives instead of holding it until it is whole', () => {
    const { lane: l, conn } = lane();
    const [a, b] = [new Member(), new Member()];
    for (const m of [a, b]) {
      l.reserve(m);
      m.start();
      l.enter(m);
    }
    const row = msg('D', Buffer.alloc(4 * 1024 * 1024, 7));
    const replyA = Buffer.concat([row, complete('SELECT 1'), ready('I')]);
    const replyB = Buffer.concat([complete('SELECT 0'), ready('I')]);
    const stream = Buffer.concat([replyA, replyB]);
    const piece = 64 * 1024;
    conn.onData!(stream.subarray(0, piece));
    // Half a row in: a's tracker already has it (the lane keeps no copy of its own).
    expect(Buffer.concat(a.received).equals(stream.subarray(0, piece))).toBe(true);
    for (let at = piece; at < stream.length; at += piece) conn.onData!(stream.subarray(at, at + piece));
    expect(Buffer.concat(a.received).equals(replyA)).toBe(true);
    expect(Buffer.concat(b.received).equals(replyB)).toBe(true);
  });
});
