// The MySQL packet framer and payload reader/writer: packets split at every byte boundary come
// out the same, 16 MB continuations are joined, sizes are bounded, and length-encoded values
// round-trip exactly.
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { MAX_PACKET_PAYLOAD } from '../../src/protocol/mysql/constants.js';
import { type LogicalPacket, PacketFramer } from '../../src/protocol/mysql/packet-framer.js';
import { framePayload, PacketReader, PacketWriter, packetCount } from '../../src/protocol/mysql/packet-io.js';

function drain(framer: PacketFramer): LogicalPacket[] {
  const out: LogicalPacket[] = [];
  for (let p = framer.next(); p; p = framer.next())
    out.push({ ...p, payload: Buffer.from(p.payload), raw: Buffer.from(p.raw) });
  return out;
}

const payloads = [
  Buffer.from([0x03, ...Buffer.from('SELECT 1')]),
  Buffer.alloc(0),
  Buffer.from([0x0e]),
  Buffer.alloc(300, 7),
];
const wire = Buffer.concat(payloads.map((p, i) => framePayload(p, i)));

describe('PacketFramer', () => {
  it('frames packets with exact headers', () => {
    expect([...framePayload(Buffer.from([0x0e]), 0)]).toEqual([1, 0, 0, 0, 0x0e]);
    expect([...framePayload(Buffer.from('ab'), 255)]).toEqual([2, 0, 0, 255, 0x61, 0x62]);
  });

  it('returns the same packets for every split of the input', () => {
    const whole = new PacketFramer(1 << 20);
    whole.push(wire);
    const expected = drain(whole);
    expect(expected.map((p) => p.payload)).toEqual(payloads);
    expect(expected.map((p) => p.seq)).toEqual([0, 1, 2, 3]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const framer = new PacketFramer(1 << 20);
      const got: LogicalPacket[] = [];
      framer.push(wire.subarray(0, cut));
      got.push(...drain(framer));
      framer.push(wire.subarray(cut));
      got.push(...drain(framer));
      expect(got.map((p) => p.payload)).toEqual(payloads);
      expect(got.map((p) => p.raw)).toEqual(expected.map((p) => p.raw));
      expect(framer.buffered).toBe(0);
    }
  });

  it('handles byte-at-a-time input', () => {
    const framer = new PacketFramer(1 << 20);
    const got: LogicalPacket[] = [];
    for (const b of wire) {
      framer.push(Buffer.from([b]));
      got.push(...drain(framer));
    }
    expect(got.map((p) => p.payload)).toEqual(payloads);
  });

  it('joins 16 MB continuations into one logical packet, split anywhere', () => {
    for (const size of [MAX_PACKET_PAYLOAD, MAX_PACKET_PAYLOAD + 10]) {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4093) payload[i] = i & 0xff;
      const bytes = framePayload(payload, 5);
      expect(packetCount(size)).toBe(2);
      expect(bytes.length).toBe(size + 8);
      expect(bytes[3]).toBe(5);
      expect(bytes[MAX_PACKET_PAYLOAD + 4 + 3]).toBe(6);
      for (const cut of [
        1,
        3,
        4,
        MAX_PACKET_PAYLOAD + 3,
        MAX_PACKET_PAYLOAD + 4,
        MAX_PACKET_PAYLOAD + 6,
        bytes.length - 1,
      ]) {
        const framer = new PacketFramer(1 << 25);
        framer.push(bytes.subarray(0, cut));
        expect(framer.next()).toBeNull();
        framer.push(bytes.subarray(cut));
        const p = framer.next()!;
        expect(p.seq).toBe(5);
        expect(p.lastSeq).toBe(6);
        expect(p.payload.equals(payload)).toBe(true);
        expect(p.raw.length).toBe(bytes.length);
        expect(framer.next()).toBeNull();
      }
    }
  });

  it('refuses a packet larger than the limit as soon as its header arrives', () => {
    const framer = new PacketFramer(100);
    framer.push(Buffer.from([101, 0, 0, 0]));
    expect(() => framer.next()).toThrow(ShardgateError);
  });
});

describe('PacketReader / PacketWriter', () => {
  it('round-trips length-encoded integers at every width boundary', () => {
    for (const v of [
      0,
      1,
      250,
      251,
      252,
      0xffff,
      0x10000,
      0xffffff,
      0x1000000,
      2 ** 40,
      Number.MAX_SAFE_INTEGER,
    ]) {
      const w = new PacketWriter().lenencInt(v);
      const r = new PacketReader(w.payload());
      expect(r.lenencInt()).toBe(v);
      expect(r.remaining).toBe(0);
    }
    expect([...new PacketWriter().lenencInt(250).payload()]).toEqual([250]);
    expect([...new PacketWriter().lenencInt(251).payload()]).toEqual([0xfc, 251, 0]);
    expect([...new PacketWriter().lenencInt(0x10000).payload()]).toEqual([0xfd, 0, 0, 1]);
    expect([...new PacketWriter().lenencBytes(null).payload()]).toEqual([0xfb]);
  });

  it('reads NULL and strings and throws ShardgateError past the end', () => {
    const r = new PacketReader(Buffer.from([0xfb, 2, 0x68, 0x69, 0x61, 0]));
    expect(r.lenencBytes()).toBeNull();
    expect(r.lenencString()).toBe('hi');
    expect(r.nulString()).toBe('a');
    expect(() => r.u8()).toThrow(ShardgateError);
    expect(() => new PacketReader(Buffer.from([0xff])).lenencInt()).toThrow(ShardgateError);
    expect(() => new PacketReader(Buffer.from([5, 1])).lenencString()).toThrow(ShardgateError);
    expect(() => new PacketReader(Buffer.from('abc')).nulString()).toThrow(ShardgateError);
  });
});
