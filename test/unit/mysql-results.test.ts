// Response packets, column definitions, text and binary rows, binary values and prepared
// statement packets: exact bytes where the protocol fixes them, round trips everywhere else.
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { readBinaryValue, writeBinaryValue } from '../../src/protocol/mysql/binary-values.js';
import {
  bigintColumn,
  type ColumnDefinition,
  decodeColumnDefinition,
  encodeColumnDefinition,
  textColumn,
  withExtendedMetadata,
} from '../../src/protocol/mysql/columns.js';
import { CAP, COM, STATUS, TYPE } from '../../src/protocol/mysql/constants.js';
import { framePayload, PacketReader, PacketWriter } from '../../src/protocol/mysql/packet-io.js';
import {
  decodeEof,
  decodeErr,
  decodeOk,
  encodeEof,
  encodeErr,
  encodeOk,
  encodeResultEnd,
  encodeShardgateError,
  endStatus,
  framedEof,
  stripSessionTracking,
} from '../../src/protocol/mysql/responses.js';
import {
  decodeBinaryRow,
  decodeTextRow,
  encodeBinaryRow,
  encodeTextRow,
} from '../../src/protocol/mysql/rows.js';
import {
  decodeExecute,
  decodePrepareOk,
  encodePrepareOk,
  rewriteExecute,
} from '../../src/protocol/mysql/statements.js';

const TRACK = CAP.SESSION_TRACK | CAP.PROTOCOL_41;

describe('OK / ERR / EOF', () => {
  it('encodes a plain OK with exact bytes', () => {
    expect([...encodeOk({ status: STATUS.AUTOCOMMIT }, 0)]).toEqual([0, 0, 0, 2, 0, 0, 0]);
    expect([...encodeOk({ status: 2, affectedRows: 1n, insertId: 300n }, 0)]).toEqual([
      0, 1, 0xfc, 0x2c, 1, 2, 0, 0, 0,
    ]);
  });

  it('round-trips session tracking (variables, schema, state change) and strips it', () => {
    const session = {
      variables: [['last_gtid', '0-1-42'] as [string, string], ['autocommit', 'ON'] as [string, string]],
      schema: 'shardgate',
      stateChanged: true,
      gtids: null,
      transactionState: null,
    };
    const bytes = encodeOk(
      { status: STATUS.AUTOCOMMIT, affectedRows: 3n, info: 'Rows matched: 3', session },
      TRACK,
    );
    const ok = decodeOk(bytes, TRACK);
    expect(ok.affectedRows).toBe(3n);
    expect(ok.info).toBe('Rows matched: 3');
    expect(ok.status & STATUS.SESSION_STATE_CHANGED).toBeTruthy();
    expect(ok.session).toEqual(session);
    const plain = decodeOk(stripSessionTracking(bytes, TRACK), 0);
    expect(plain.info).toBe('Rows matched: 3');
    expect(plain.session).toBeNull();
    expect(plain.status & STATUS.SESSION_STATE_CHANGED).toBe(0);
  });

  it('reads an OK that ends right after the warnings under SESSION_TRACK', () => {
    const ok = decodeOk(Buffer.from([0, 0, 0, 2, 0, 0, 0]), TRACK);
    expect(ok).toMatchObject({ info: '', session: null, status: 2 });
  });

  it('ERR and EOF with exact bytes', () => {
    const err = encodeErr({ errno: 1045, sqlstate: '28000', message: 'no' });
    expect([...err]).toEqual([0xff, 0x15, 0x04, 0x23, ...Buffer.from('28000no')]);
    expect(decodeErr(err)).toEqual({ errno: 1045, sqlstate: '28000', message: 'no' });
    expect(decodeErr(Buffer.from([0xff, 0x10, 0x04, ...Buffer.from('Too many')]))).toEqual({
      errno: 1040,
      sqlstate: 'HY000',
      message: 'Too many',
    });
    expect([...encodeEof({ warnings: 1, status: 0x22 })]).toEqual([0xfe, 1, 0, 0x22, 0]);
    expect(decodeEof(encodeEof({ warnings: 1, status: 0x22 }))).toEqual({ warnings: 1, status: 0x22 });
    // The relay's EOF, framed where it is made: the same bytes as encoding then framing.
    for (const [seq, warnings, status] of [
      [0, 0, 0],
      [7, 1, 0x22],
      [255, 0xffff, 0x4002],
    ] as const)
      expect(framedEof(seq, warnings, status)).toEqual(framePayload(encodeEof({ warnings, status }), seq));
  });

  it('ends a result set as the client asked (EOF or OK with 0xfe)', () => {
    const eof = encodeResultEnd(STATUS.MORE_RESULTS_EXISTS, 0, 0);
    expect(eof.length).toBe(5);
    const ok = encodeResultEnd(STATUS.MORE_RESULTS_EXISTS, 2, CAP.DEPRECATE_EOF);
    expect(ok[0]).toBe(0xfe);
    expect(endStatus(ok, CAP.DEPRECATE_EOF)).toEqual({ status: STATUS.MORE_RESULTS_EXISTS, warnings: 2 });
    expect(endStatus(eof, 0)).toEqual({ status: STATUS.MORE_RESULTS_EXISTS, warnings: 0 });
  });

  it('sends shardgate errors with MySQL errno and SQLSTATE', () => {
    const e = decodeErr(
      encodeShardgateError(new ShardgateError('UNKNOWN_DATABASE', { database: 'x', known: 'y' })),
    );
    expect(e.errno).toBe(1049);
    expect(e.sqlstate).toBe('42000');
    expect(e.message).toContain('"x"');
  });
});

describe('column definitions', () => {
  it('round-trips, including the COM_FIELD_LIST default value', () => {
    const c: ColumnDefinition = {
      ...textColumn('name'),
      schema: 'db',
      table: 't',
      orgTable: 't',
      orgName: 'name',
    };
    expect(decodeColumnDefinition(encodeColumnDefinition(c))).toEqual(c);
    const withDefault = encodeColumnDefinition({ ...bigintColumn('id'), defaultValue: null });
    expect(withDefault[withDefault.length - 1]).toBe(0xfb);
    expect(decodeColumnDefinition(withDefault).type).toBe(TYPE.LONGLONG);
  });
});

const col = (type: number, flags = 0, decimals = 0): ColumnDefinition => ({
  ...textColumn('c'),
  type,
  flags,
  decimals,
});

describe('MariaDB extended metadata in column definitions', () => {
  const json: ColumnDefinition = { ...textColumn('j'), extended: Buffer.from('\x01\x04json', 'latin1') };

  it('round-trips the block, and an empty one for columns without', () => {
    expect(decodeColumnDefinition(encodeColumnDefinition(json, true), true)).toEqual(json);
    const plain = textColumn('s');
    expect(decodeColumnDefinition(encodeColumnDefinition(plain, true), true)).toEqual(plain);
  });

  it('is taken out for clients without it and added (empty) for clients with it', () => {
    expect(withExtendedMetadata(encodeColumnDefinition(json, true), true, false)).toEqual(
      encodeColumnDefinition(json, false),
    );
    const plain = textColumn('s');
    expect(withExtendedMetadata(encodeColumnDefinition(plain), false, true)).toEqual(
      encodeColumnDefinition(plain, true),
    );
    const same = encodeColumnDefinition(json, true);
    expect(withExtendedMetadata(same, true, true)).toBe(same);
  });
});

describe('rows', () => {
  it('text rows: cells and NULL', () => {
    const cells = [Buffer.from('1'), null, Buffer.from('')];
    const p = encodeTextRow(cells);
    expect([...p]).toEqual([1, 0x31, 0xfb, 0]);
    expect(decodeTextRow(p, 3)).toEqual(cells);
    expect(() => decodeTextRow(p, 2)).toThrow(ShardgateError);
  });

  it('binary rows round-trip through text cells for every type family', () => {
    const columns = [
      col(TYPE.LONGLONG),
      col(TYPE.LONGLONG, 0x20),
      col(TYPE.LONG),
      col(TYPE.SHORT),
      col(TYPE.TINY),
      col(TYPE.DOUBLE),
      col(TYPE.FLOAT),
      col(TYPE.NEWDECIMAL),
      col(TYPE.VAR_STRING),
      col(TYPE.DATETIME, 0, 6),
      col(TYPE.DATE),
      col(TYPE.TIME, 0, 3),
      col(TYPE.YEAR),
      col(TYPE.BLOB),
      col(TYPE.LONG),
    ];
    const cells = [
      '-9223372036854775808',
      '18446744073709551615',
      '-2147483648',
      '-32768',
      '-128',
      '0.1',
      '1.1',
      '-12345.678900',
      'héllo',
      '2024-02-29 23:59:58.123456',
      '2024-02-29',
      '-838:59:59.500',
      '2024',
      '\u0000\u00ff',
      null,
    ].map((v) => (v === null ? null : Buffer.from(v)));
    const p = encodeBinaryRow(cells, columns);
    expect(p[0]).toBe(0);
    const back = decodeBinaryRow(p, columns);
    expect(back.map((c) => c?.toString())).toEqual(cells.map((c) => c?.toString()));
  });

  it('binary NULL bitmap is offset by two bits', () => {
    const p = encodeBinaryRow([null, Buffer.from('5')], [col(TYPE.LONG), col(TYPE.LONG)]);
    expect([...p]).toEqual([0, 0b100, 5, 0, 0, 0]);
  });

  it('zero dates and times', () => {
    for (const [type, text, want] of [
      [TYPE.DATETIME, '0000-00-00 00:00:00', '0000-00-00 00:00:00'],
      [TYPE.DATE, '0000-00-00', '0000-00-00'],
      [TYPE.TIME, '00:00:00', '00:00:00'],
    ] as const) {
      const w = new PacketWriter();
      writeBinaryValue(w, { type, unsigned: false, decimals: 0 }, Buffer.from(text));
      expect(w.payload()[0]).toBe(0);
      expect(
        readBinaryValue(new PacketReader(w.payload()), { type, unsigned: false, decimals: 0 }).toString(),
      ).toBe(want);
    }
  });
});

describe('prepared statement packets', () => {
  it('PREPARE_OK with exact bytes', () => {
    const p = encodePrepareOk({ statementId: 7, columnCount: 2, paramCount: 1, warnings: 0 });
    expect([...p]).toEqual([0, 7, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0]);
    expect(decodePrepareOk(p)).toEqual({ statementId: 7, columnCount: 2, paramCount: 1, warnings: 0 });
  });

  it('decodes COM_STMT_EXECUTE parameters and rewrites id and types', () => {
    const w = new PacketWriter().u8(COM.STMT_EXECUTE).u32(1).u8(0).u32(1);
    w.u8(0b010).u8(1); // second parameter NULL, types follow
    w.u8(TYPE.LONGLONG).u8(0).u8(TYPE.NULL).u8(0).u8(TYPE.VAR_STRING).u8(0);
    w.u64(42n).lenencString('abc');
    const payload = w.payload();
    const e = decodeExecute(payload, 3, null);
    expect(e.values).toEqual(['42', null, 'abc']);
    expect(e.types?.map((t) => t.type)).toEqual([TYPE.LONGLONG, TYPE.NULL, TYPE.VAR_STRING]);
    const same = rewriteExecute(payload, e, 99, 3, e.types);
    expect(same.readUInt32LE(1)).toBe(99);
    expect(same.subarray(5).equals(payload.subarray(5))).toBe(true);

    // The same execute without types: decoded with the types bound before, rewritten with them.
    const bare = new PacketWriter()
      .u8(COM.STMT_EXECUTE)
      .u32(1)
      .u8(0)
      .u32(1)
      .u8(0b010)
      .u8(0)
      .u64(43n)
      .lenencString('d')
      .payload();
    const e2 = decodeExecute(bare, 3, e.types);
    expect(e2.values).toEqual(['43', null, 'd']);
    const full = rewriteExecute(bare, e2, 5, 3, e.types);
    expect(decodeExecute(full, 3, null).values).toEqual(['43', null, 'd']);
    expect(() => decodeExecute(bare, 3, null)).toThrow(ShardgateError);
  });
});
