// Arbitrary bytes through every MySQL decoder, the framer and the response scanner: the only
// exception allowed is ShardgateError (a session ends; the process never does).
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { readBinaryValue, writeBinaryValue } from '../../src/protocol/mysql/binary-values.js';
import { decodeColumnDefinition, textColumn } from '../../src/protocol/mysql/columns.js';
import { TYPE } from '../../src/protocol/mysql/constants.js';
import * as hs from '../../src/protocol/mysql/handshake.js';
import { PacketFramer } from '../../src/protocol/mysql/packet-framer.js';
import { PacketReader, PacketWriter } from '../../src/protocol/mysql/packet-io.js';
import { ResponseScanner, type ResponseShape } from '../../src/protocol/mysql/response-scanner.js';
import * as rs from '../../src/protocol/mysql/responses.js';
import { decodeBinaryRow, decodeTextRow } from '../../src/protocol/mysql/rows.js';
import * as st from '../../src/protocol/mysql/statements.js';

function onlyShardgateErrors(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ShardgateError)) throw err;
  }
}

const TYPES = Object.values(TYPE);
const bytes = fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a));
const runs = { numRuns: 1500 };

const decoders: Array<(b: Buffer) => unknown> = [
  hs.decodeHandshakeV10,
  hs.decodeHandshakeResponse,
  (b) => hs.decodeChangeUser(b, 0xffffffff),
  (b) => hs.decodeChangeUser(b, 0),
  hs.decodeAuthSwitchRequest,
  (b) => rs.decodeOk(b, 0xffffffff),
  (b) => rs.decodeOk(b, 0),
  rs.decodeErr,
  rs.decodeEof,
  (b) => rs.endStatus(b, 0xffffffff),
  (b) => rs.stripSessionTracking(b, 0xffffffff),
  decodeColumnDefinition,
  (b) => decodeTextRow(b, 3),
  st.decodePrepareOk,
  st.decodeStatementId,
  st.decodeSendLongData,
];

describe('MySQL codecs under garbage', () => {
  it('every decoder throws only ShardgateError', () => {
    fc.assert(
      fc.property(bytes, fc.nat(decoders.length - 1), (b, i) => {
        onlyShardgateErrors(() => decoders[i]!(b));
      }),
      runs,
    );
  });

  it('binary rows, values and executes with arbitrary types', () => {
    fc.assert(
      fc.property(
        bytes,
        fc.array(fc.constantFrom(...TYPES), { maxLength: 6 }),
        fc.boolean(),
        (b, types, unsigned) => {
          const columns = types.map((type) => ({ ...textColumn('c'), type, flags: unsigned ? 0x20 : 0 }));
          onlyShardgateErrors(() => decodeBinaryRow(b, columns));
          onlyShardgateErrors(() =>
            readBinaryValue(new PacketReader(b), { type: types[0] ?? TYPE.LONG, unsigned, decimals: 3 }),
          );
          onlyShardgateErrors(() =>
            st.decodeExecute(
              Buffer.concat([Buffer.from([0x17]), b]),
              types.length,
              types.map((type) => ({ type, unsigned })),
            ),
          );
          onlyShardgateErrors(() =>
            st.decodeExecute(Buffer.concat([Buffer.from([0x17]), b]), types.length, null),
          );
        },
      ),
      runs,
    );
  });

  it('encoding arbitrary text as a binary value throws only ShardgateError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.constantFrom(...TYPES), (text, type) => {
        onlyShardgateErrors(() =>
          writeBinaryValue(new PacketWriter(), { type, unsigned: false, decimals: 0 }, Buffer.from(text)),
        );
      }),
      runs,
    );
  });

  it('the framer and the scanner take any chunking of any bytes', () => {
    const shapes: ResponseShape[] = ['result', 'fetch', 'prepare', 'field-list', 'single'];
    fc.assert(
      fc.property(
        fc.array(bytes, { maxLength: 6 }),
        fc.constantFrom(...shapes),
        fc.nat(0xffffffff),
        (chunks, shape, caps) => {
          const framer = new PacketFramer(1000);
          const scanner = new ResponseScanner(caps);
          for (let i = 0; i < 4; i++) scanner.expect(shape, { onPacket() {} });
          for (const c of chunks) {
            onlyShardgateErrors(() => {
              framer.push(c);
              while (framer.next());
            });
            onlyShardgateErrors(() => scanner.onData(c));
          }
        },
      ),
      runs,
    );
  });
});
