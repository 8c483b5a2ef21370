// Arbitrary bytes through every PostgreSQL decoder: the only exception allowed is ShardgateError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScramClient, ScramServer } from '../../src/auth/scram.js';
import { ShardgateError } from '../../src/errors.js';
import * as be from '../../src/protocol/postgres/backend-decoders.js';
import { FrontendFramer } from '../../src/protocol/postgres/frontend-framer.js';
import * as fe from '../../src/protocol/postgres/frontend-messages.js';
import { unnamedBind } from '../support/unit-pg-messages.js';

type Decoder = (buf: Buffer, bodyStart?: number, end?: number) => unknown;

/** The decoders of each message a client sends; the compiler keeps it in step with FE_TYPE. */
const decodersByName: Record<keyof typeof fe.FE_TYPE, Decoder[]> = {
  Query: [fe.decodeQuery],
  Parse: [fe.decodeParse],
  Bind: [fe.decodeBind],
  Describe: [fe.decodeDescribe],
  Execute: [fe.decodeExecute],
  Close: [fe.decodeClose],
  Sync: [fe.decodeEmpty],
  Flush: [fe.decodeEmpty],
  Terminate: [fe.decodeEmpty],
  CopyData: [fe.decodeCopyData],
  CopyDone: [fe.decodeEmpty],
  CopyFail: [fe.decodeCopyFail],
  FunctionCall: [fe.decodeFunctionCall],
  Password: [fe.decodePassword, fe.decodeSASLInitialResponse, fe.decodeSASLResponse],
};
const frontendDecoders = new Map<number, Decoder[]>(
  Object.entries(fe.FE_TYPE).map(([name, type]) => [type, decodersByName[name as keyof typeof fe.FE_TYPE]]),
);
const allFrontend = Object.values(decodersByName).flat();
const allBackend: Decoder[] = [
  be.decodeRowDescription,
  be.decodeDataRow,
  be.readCommandTag,
  be.decodeErrorFields,
  be.readErrorCode,
  be.decodeParameterStatus,
  be.decodeBackendKeyData,
  be.decodeReadyForQuery,
  be.decodeParameterDescription,
  be.decodeNotificationResponse,
  be.decodeCopyResponse,
  be.decodeAuthentication,
];

function onlyShardgateErrors(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ShardgateError)) throw err;
  }
}

/** Bytes that look like messages often enough to get past the headers. */
const typeByte = fc.constantFrom(...frontendDecoders.keys());
const messageLike = fc
  .tuple(typeByte, fc.uint8Array({ maxLength: 40 }), fc.integer({ min: -2, max: 2 }))
  .map(([type, body, skew]) => {
    const b = Buffer.alloc(5 + body.length);
    b[0] = type;
    b.writeInt32BE(body.length + 4 + skew, 1);
    b.set(body, 5);
    return b;
  });

describe('PostgreSQL codecs under arbitrary input', () => {
  it('framer + decoders: arbitrary chunks (property)', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 60 }), messageLike), { maxLength: 10 }),
        (startup, chunks) => {
          const framer = new FrontendFramer({ maxMessageBytes: 4096, startup });
          onlyShardgateErrors(() => {
            for (const c of chunks) {
              framer.push(Buffer.from(c));
              for (let f = framer.next(); f; f = framer.next()) {
                if (f.type === 0) {
                  onlyShardgateErrors(() => fe.decodeStartupPacket(f.buf, f.bodyStart, f.end));
                  continue;
                }
                for (const d of frontendDecoders.get(f.type) ?? [])
                  onlyShardgateErrors(() => d(f.buf, f.bodyStart, f.end));
                const whole = f.buf.subarray(f.start, f.end);
                onlyShardgateErrors(() => fe.renameStatement(whole, 'renamed'));
              }
            }
          });
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('every decoder on arbitrary bodies and bounds (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: -3, max: 90 }),
        fc.integer({ min: -3, max: 90 }),
        (bytes, a, b) => {
          const buf = Buffer.from(bytes);
          for (const d of [...allFrontend, ...allBackend, fe.decodeStartupPacket]) {
            onlyShardgateErrors(() => d(buf, 0, buf.length));
            onlyShardgateErrors(() => d(buf, a, b));
          }
          onlyShardgateErrors(() => fe.renameStatement(buf, 'x'));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('SCRAM parsers on arbitrary text (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (first, final) => {
        const server = new ScramServer('pw', { nonce: 'N' });
        onlyShardgateErrors(() => {
          server.handleClientFirst(first);
          server.handleClientFinal(final);
        });
        const client = new ScramClient('pw', { nonce: 'C' });
        onlyShardgateErrors(() => client.clientFinal(first));
        onlyShardgateErrors(() => client.verifyServerFinal(final));
      }),
      { numRuns: 1000 },
    );
  });

  it('decoded values never read outside the message view', () => {
    const msg = unnamedBind([Buffer.from('abc')]);
    // The same bytes followed by garbage: decoding the exact view must ignore the garbage.
    const padded = Buffer.concat([msg, Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    expect(fe.decodeBind(padded, 5, msg.length).values).toEqual([Buffer.from('abc')]);
    expect(() => fe.decodeBind(padded, 5, padded.length)).toThrow(ShardgateError);
  });
});
