// The response scanner names every packet of pipelined responses (OK, ERR, result sets with and
// without EOF packets, multiple results, prepare, field list, fetch) and ends each response at
// the right packet, whatever the chunking of the server's bytes.
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { encodeColumnDefinition, textColumn } from '../../src/protocol/mysql/columns.js';
import { CAP, STATUS } from '../../src/protocol/mysql/constants.js';
import { framePayload, PacketWriter } from '../../src/protocol/mysql/packet-io.js';
import {
  type PacketRole,
  ResponseScanner,
  type ResponseShape,
} from '../../src/protocol/mysql/response-scanner.js';
import { encodeErr, encodeOk, encodeResultEnd } from '../../src/protocol/mysql/responses.js';
import { encodeTextRow } from '../../src/protocol/mysql/rows.js';
import { encodePrepareOk } from '../../src/protocol/mysql/statements.js';

/** Frames payloads as one response (sequence ids from 1). */
function response(payloads: Buffer[]): Buffer {
  return Buffer.concat(payloads.map((p, i) => framePayload(p, i + 1)));
}

function resultSet(caps: number, columns: number, rows: number, status: number): Buffer[] {
  const out = [new PacketWriter().lenencInt(columns).payload()];
  for (let i = 0; i < columns; i++) out.push(encodeColumnDefinition(textColumn(`c${i}`)));
  if (!(caps & CAP.DEPRECATE_EOF)) out.push(encodeResultEnd(0, 0, 0));
  for (let r = 0; r < rows; r++)
    out.push(
      encodeTextRow(Array.from({ length: columns }, (_, i) => (i === 0 ? Buffer.from([0xfe, 1]) : null))),
    );
  out.push(encodeResultEnd(status, 0, caps));
  return out;
}

interface Case {
  shape: ResponseShape;
  bytes: Buffer;
  roles: PacketRole[];
}

function cases(caps: number): Case[] {
  const eof = !(caps & CAP.DEPRECATE_EOF);
  const cols = (n: number) => Array<PacketRole>(n).fill('column');
  const rows = (n: number) => Array<PacketRole>(n).fill('row');
  return [
    { shape: 'result', bytes: response([encodeOk({ status: 2 }, caps)]), roles: ['ok'] },
    {
      shape: 'result',
      bytes: response([encodeErr({ errno: 1064, sqlstate: '42000', message: 'bad' })]),
      roles: ['err'],
    },
    {
      shape: 'result',
      bytes: response(resultSet(caps, 2, 3, 2)),
      roles: ['column-count', ...cols(2), ...(eof ? ['columns-end' as const] : []), ...rows(3), 'rows-end'],
    },
    {
      // Two result sets and a final OK (a CALL, or "SELECT 1; SELECT 2; UPDATE ...").
      shape: 'result',
      bytes: response([
        ...resultSet(caps, 1, 1, STATUS.MORE_RESULTS_EXISTS),
        ...resultSet(caps, 1, 0, STATUS.MORE_RESULTS_EXISTS),
        encodeOk({ status: STATUS.MORE_RESULTS_EXISTS }, caps),
        encodeOk({ status: 2, affectedRows: 1n }, caps),
      ]),
      roles: [
        'column-count',
        'column',
        ...(eof ? ['columns-end' as const] : []),
        'row',
        'rows-end',
        'column-count',
        'column',
        ...(eof ? ['columns-end' as const] : []),
        'rows-end',
        'ok',
        'ok',
      ],
    },
    {
      // An error in the middle of rows (e.g. KILL QUERY) ends the response.
      shape: 'result',
      bytes: response([
        ...resultSet(caps, 1, 2, 2).slice(0, eof ? 5 : 4),
        encodeErr({ errno: 1317, sqlstate: '70100', message: 'interrupted' }),
      ]),
      roles: ['column-count', 'column', ...(eof ? ['columns-end' as const] : []), 'row', 'row', 'err'],
    },
    {
      shape: 'prepare',
      bytes: response([
        encodePrepareOk({ statementId: 1, columnCount: 2, paramCount: 1, warnings: 0 }),
        encodeColumnDefinition(textColumn('?')),
        ...(eof ? [encodeResultEnd(2, 0, 0)] : []),
        encodeColumnDefinition(textColumn('a')),
        encodeColumnDefinition(textColumn('b')),
        ...(eof ? [encodeResultEnd(2, 0, 0)] : []),
      ]),
      roles: [
        'prepare-ok',
        'param',
        ...(eof ? ['params-end' as const] : []),
        'column',
        'column',
        ...(eof ? ['columns-end' as const] : []),
      ],
    },
    {
      shape: 'prepare',
      bytes: response([encodePrepareOk({ statementId: 2, columnCount: 0, paramCount: 0, warnings: 0 })]),
      roles: ['prepare-ok'],
    },
    {
      shape: 'field-list',
      bytes: response([encodeColumnDefinition(textColumn('a')), encodeResultEnd(2, 0, 0)]),
      roles: ['column', 'columns-end'],
    },
    {
      shape: 'fetch',
      bytes: response([encodeTextRow([Buffer.from('x')]), encodeResultEnd(STATUS.LAST_ROW_SENT, 0, caps)]),
      roles: ['row', 'rows-end'],
    },
  ];
}

function run(caps: number, all: Case[], chunks: Buffer[]): PacketRole[][] {
  const scanner = new ResponseScanner(caps);
  const seen: PacketRole[][] = all.map(() => []);
  const done: boolean[] = all.map(() => false);
  all.forEach((c, i) => {
    scanner.expect(c.shape, {
      onPacket(_p, role, final) {
        expect(done[i]).toBe(false);
        seen[i]!.push(role);
        if (final) done[i] = true;
      },
    });
  });
  for (const chunk of chunks) scanner.onData(chunk);
  expect(done.every(Boolean)).toBe(true);
  expect(scanner.idle).toBe(true);
  return seen;
}

describe('ResponseScanner', () => {
  for (const caps of [
    CAP.PROTOCOL_41 | CAP.SESSION_TRACK,
    CAP.PROTOCOL_41 | CAP.SESSION_TRACK | CAP.DEPRECATE_EOF,
  ]) {
    const label = caps & CAP.DEPRECATE_EOF ? 'with CLIENT_DEPRECATE_EOF' : 'with EOF packets';
    it(`names every packet of pipelined responses ${label}, at every split`, () => {
      const all = cases(caps);
      const wire = Buffer.concat(all.map((c) => c.bytes));
      const expected = all.map((c) => c.roles);
      expect(run(caps, all, [wire])).toEqual(expected);
      for (let cut = 1; cut < wire.length; cut++) {
        expect(run(caps, all, [wire.subarray(0, cut), wire.subarray(cut)])).toEqual(expected);
      }
    });
  }

  it('refuses packets nobody asked for, and LOCAL INFILE requests', () => {
    const s = new ResponseScanner(0);
    expect(() => s.onData(response([encodeOk({ status: 2 }, 0)]))).toThrow(ShardgateError);
    const t = new ResponseScanner(0);
    t.expect('result', { onPacket() {} });
    expect(() => t.onData(response([Buffer.from([0xfb, 0x61])]))).toThrow(ShardgateError);
  });

  it('ends the chunk of the handler it fed even when a later packet of the chunk is refused', () => {
    // A relay corks the client's socket inside a chunk; without the chunk's end the error sent to
    // the client next would stay behind the cork.
    const s = new ResponseScanner(0);
    const seen: string[] = [];
    s.expect('result', { onPacket: () => seen.push('packet'), onChunkEnd: () => seen.push('end') });
    const ok = response([encodeOk({ status: 2 }, 0)]);
    const wire = Buffer.concat([ok, ok]);
    expect(() => s.onData(wire)).toThrow(ShardgateError);
    expect(seen).toEqual(['packet', 'end']);
  });
});
