import { Parser } from 'pg-protocol/dist/parser.js';
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import {
  decodeAuthentication,
  decodeBackendKeyData,
  decodeCommandComplete,
  decodeCopyResponse,
  decodeDataRow,
  decodeErrorFields,
  decodeNotificationResponse,
  decodeParameterDescription,
  decodeParameterStatus,
  decodeReadyForQuery,
  decodeRowDescription,
  readErrorCode,
} from '../../src/protocol/postgres/backend-decoders.js';
import {
  BIND_COMPLETE,
  CLOSE_COMPLETE,
  EMPTY_QUERY_RESPONSE,
  type ErrorFields,
  encodeAuthenticationCleartextPassword,
  encodeAuthenticationMD5Password,
  encodeAuthenticationOk,
  encodeAuthenticationSASL,
  encodeAuthenticationSASLContinue,
  encodeAuthenticationSASLFinal,
  encodeBackendKeyData,
  encodeCommandComplete,
  encodeCopyBothResponse,
  encodeCopyInResponse,
  encodeCopyOutResponse,
  encodeDataRow,
  encodeErrorResponse,
  encodeNotice,
  encodeNoticeResponse,
  encodeNotificationResponse,
  encodeParameterDescription,
  encodeParameterStatus,
  encodeReadyForQuery,
  encodeRowDescription,
  encodeTextRowDescription,
  type FieldDescription,
  NO_DATA,
  PARSE_COMPLETE,
  PORTAL_SUSPENDED,
} from '../../src/protocol/postgres/backend-messages.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Parses with the pg driver's own parser: an independent check of our encoders. */
function pgParse(bytes: Buffer): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  new Parser().parse(bytes, (m) => out.push(m as unknown as Record<string, unknown>));
  return out;
}

describe('backend messages: exact bytes (written by hand from the protocol docs)', () => {
  it('authentication', () => {
    expect(encodeAuthenticationOk()).toEqual(hex('52 00000008 00000000'));
    expect(encodeAuthenticationCleartextPassword()).toEqual(hex('52 00000008 00000003'));
    expect(encodeAuthenticationMD5Password(hex('01020304'))).toEqual(hex('52 0000000c 00000005 01020304'));
    expect(encodeAuthenticationSASL(['SCRAM-SHA-256'])).toEqual(
      hex('52 00000017 0000000a 534352414d2d5348412d32353600 00'),
    );
    expect(encodeAuthenticationSASLContinue('r=a')).toEqual(hex('52 0000000b 0000000b 723d61'));
    expect(encodeAuthenticationSASLFinal('v=b')).toEqual(hex('52 0000000b 0000000c 763d62'));
  });
  it('session and result messages', () => {
    expect(encodeReadyForQuery('I')).toEqual(hex('5a 00000005 49'));
    expect(encodeReadyForQuery(0x54)).toEqual(hex('5a 00000005 54'));
    expect(encodeBackendKeyData(1234, 5678)).toEqual(hex('4b 0000000c 000004d2 0000162e'));
    expect(encodeParameterStatus('a', 'b')).toEqual(hex('53 00000008 6100 6200'));
    expect(encodeCommandComplete('SELECT 1')).toEqual(hex('43 0000000d 53454c4543542031 00'));
    expect(encodeDataRow(['ab', null])).toEqual(hex('44 00000010 0002 00000002 6162 ffffffff'));
    expect(
      encodeRowDescription([
        { name: 'a', tableOid: 0, column: 0, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
      ]),
    ).toEqual(hex('54 0000001a 0001 6100 00000000 0000 00000017 0004 ffffffff 0000'));
    expect(encodeParameterDescription([23])).toEqual(hex('74 0000000a 0001 00000017'));
    expect(PARSE_COMPLETE).toEqual(hex('31 00000004'));
    expect(BIND_COMPLETE).toEqual(hex('32 00000004'));
    expect(CLOSE_COMPLETE).toEqual(hex('33 00000004'));
    expect(NO_DATA).toEqual(hex('6e 00000004'));
    expect(EMPTY_QUERY_RESPONSE).toEqual(hex('49 00000004'));
    expect(PORTAL_SUSPENDED).toEqual(hex('73 00000004'));
    expect(encodeNotificationResponse(7, 'c', 'p')).toEqual(hex('41 0000000c 00000007 6300 7000'));
    expect(encodeCopyInResponse({ format: 0, columnFormats: [0, 0] })).toEqual(
      hex('47 0000000b 00 0002 0000 0000'),
    );
  });
  it('ErrorResponse', () => {
    expect(encodeErrorResponse({ severity: 'ERROR', code: '42601', message: 'x' })).toEqual(
      hex('45 0000001d 53 4552524f5200 56 4552524f5200 43 343236303100 4d 7800 00'),
    );
  });
});

describe('backend messages: round trips', () => {
  it('RowDescription and DataRow through our decoders', () => {
    const fields: FieldDescription[] = [
      { name: 'id', tableOid: 16384, column: 1, typeOid: 20, typeSize: 8, typeModifier: -1, format: 1 },
      {
        name: 'näme',
        tableOid: 4294967295,
        column: -2,
        typeOid: 1043,
        typeSize: -1,
        typeModifier: 68,
        format: 0,
      },
    ];
    expect(decodeRowDescription(encodeRowDescription(fields))).toEqual(fields);
    expect(decodeRowDescription(encodeTextRowDescription(['a']))[0]).toMatchObject({
      name: 'a',
      typeOid: 25,
      format: 0,
    });
    const row = decodeDataRow(encodeDataRow([Buffer.from([1, 2]), null, 'ü', '']));
    expect(row).toEqual([Buffer.from([1, 2]), null, Buffer.from('ü'), Buffer.alloc(0)]);
  });

  it('session messages through our decoders', () => {
    expect(decodeCommandComplete(encodeCommandComplete('INSERT 0 5'))).toBe('INSERT 0 5');
    expect(decodeParameterStatus(encodeParameterStatus('TimeZone', 'UTC'))).toEqual({
      name: 'TimeZone',
      value: 'UTC',
    });
    expect(decodeBackendKeyData(encodeBackendKeyData(-5, 2147483647))).toEqual({
      processId: -5,
      secretKey: 2147483647,
    });
    for (const s of ['I', 'T', 'E'] as const) expect(decodeReadyForQuery(encodeReadyForQuery(s))).toBe(s);
    expect(decodeParameterDescription(encodeParameterDescription([23, 4294967295]))).toEqual([
      23, 4294967295,
    ]);
    expect(decodeNotificationResponse(encodeNotificationResponse(9, 'chan', 'hello'))).toEqual({
      processId: 9,
      channel: 'chan',
      payload: 'hello',
    });
    const copy = { format: 1, columnFormats: [1, 1, 1] };
    expect(decodeCopyResponse(encodeCopyOutResponse(copy))).toEqual(copy);
    expect(decodeCopyResponse(encodeCopyBothResponse(copy))).toEqual(copy);
    expect(decodeAuthentication(encodeAuthenticationOk())).toEqual({ code: 0 });
    expect(decodeAuthentication(encodeAuthenticationMD5Password(hex('0a0b0c0d')))).toEqual({
      code: 5,
      salt: hex('0a0b0c0d'),
    });
    expect(decodeAuthentication(encodeAuthenticationSASL(['A', 'B']))).toEqual({
      code: 10,
      mechanisms: ['A', 'B'],
    });
    expect(decodeAuthentication(encodeAuthenticationSASLFinal('v=x'))).toEqual({
      code: 12,
      data: Buffer.from('v=x'),
    });
  });

  it('error and notice fields', () => {
    const fields: ErrorFields = {
      severity: 'FEHLER',
      severityNonLocalized: 'ERROR',
      code: '23505',
      message: 'duplicate key',
      detail: 'Key (id)=(1) already exists.',
      hint: 'h',
      position: '5',
      where: 'w',
      schema: 'public',
      table: 't',
      column: 'c',
      dataType: 'd',
      constraint: 't_pkey',
      file: 'nbtinsert.c',
      line: '666',
      routine: '_bt_check_unique',
      internalPosition: '1',
      internalQuery: 'q',
    };
    const bytes = encodeErrorResponse(fields);
    expect(decodeErrorFields(bytes)).toEqual(fields);
    expect(readErrorCode(bytes)).toBe('23505');
    expect(decodeErrorFields(encodeNoticeResponse(fields))).toEqual(fields);
    expect(decodeErrorFields(encodeNotice('hi'))).toMatchObject({
      severity: 'NOTICE',
      code: '00000',
      message: 'hi',
    });
  });

  it('ErrorResponse from a ShardgateError, with a severity override', () => {
    const err = new ShardgateError('QUERY_CANCELED');
    expect(decodeErrorFields(encodeErrorResponse(err))).toEqual({
      severity: 'ERROR',
      severityNonLocalized: 'ERROR',
      code: '57014',
      message: 'canceling statement due to user request',
    });
    const fatal = decodeErrorFields(encodeErrorResponse(err, 'FATAL'));
    expect(fatal.severity).toBe('FATAL');
    expect(fatal.severityNonLocalized).toBe('FATAL');
    // A NUL in user-provided text cannot corrupt the framing.
    expect(
      decodeErrorFields(encodeErrorResponse({ severity: 'ERROR', code: 'XX000', message: 'a\0b' })).message,
    ).toBe('ab');
  });

  it('the pg driver parses every encoder output as expected', () => {
    const stream = Buffer.concat([
      encodeAuthenticationOk(),
      encodeAuthenticationCleartextPassword(),
      encodeAuthenticationMD5Password(hex('01020304')),
      encodeAuthenticationSASL(['SCRAM-SHA-256']),
      encodeAuthenticationSASLContinue('r=abc,s=c2FsdA==,i=4096'),
      encodeAuthenticationSASLFinal('v=xyz'),
      encodeParameterStatus('server_version', '15.0'),
      encodeBackendKeyData(11, 22),
      encodeReadyForQuery('T'),
      encodeRowDescription([
        { name: 'n', tableOid: 1, column: 2, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
      ]),
      encodeDataRow(['42', null]),
      encodeCommandComplete('SELECT 1'),
      EMPTY_QUERY_RESPONSE,
      PARSE_COMPLETE,
      BIND_COMPLETE,
      CLOSE_COMPLETE,
      NO_DATA,
      encodeParameterDescription([23, 25]),
      PORTAL_SUSPENDED,
      encodeNotificationResponse(5, 'ch', 'pl'),
      encodeCopyInResponse({ format: 0, columnFormats: [0] }),
      encodeCopyOutResponse({ format: 1, columnFormats: [1, 1] }),
      encodeErrorResponse({ severity: 'ERROR', code: '42P01', message: 'no table', hint: 'create it' }),
      encodeNotice('careful'),
    ]);
    const m = pgParse(stream);
    expect(m.map((x) => x.name)).toEqual([
      'authenticationOk',
      'authenticationCleartextPassword',
      'authenticationMD5Password',
      'authenticationSASL',
      'authenticationSASLContinue',
      'authenticationSASLFinal',
      'parameterStatus',
      'backendKeyData',
      'readyForQuery',
      'rowDescription',
      'dataRow',
      'commandComplete',
      'emptyQuery',
      'parseComplete',
      'bindComplete',
      'closeComplete',
      'noData',
      'parameterDescription',
      'portalSuspended',
      'notification',
      'copyInResponse',
      'copyOutResponse',
      'error',
      'notice',
    ]);
    expect(m[2]!.salt).toEqual(hex('01020304'));
    expect(m[3]!.mechanisms).toEqual(['SCRAM-SHA-256']);
    expect(m[4]!.data).toBe('r=abc,s=c2FsdA==,i=4096');
    expect(m[5]!.data).toBe('v=xyz');
    expect(m[6]).toMatchObject({ parameterName: 'server_version', parameterValue: '15.0' });
    expect(m[7]).toMatchObject({ processID: 11, secretKey: 22 });
    expect(m[8]).toMatchObject({ status: 'T' });
    expect((m[9]!.fields as Array<Record<string, unknown>>)[0]).toMatchObject({
      name: 'n',
      tableID: 1,
      columnID: 2,
      dataTypeID: 23,
      dataTypeSize: 4,
      dataTypeModifier: -1,
      format: 'text',
    });
    expect(m[10]!.fields).toEqual(['42', null]);
    expect(m[11]).toMatchObject({ text: 'SELECT 1' });
    expect(m[17]).toMatchObject({ parameterCount: 2, dataTypeIDs: [23, 25] });
    expect(m[19]).toMatchObject({ processId: 5, channel: 'ch', payload: 'pl' });
    expect(m[20]).toMatchObject({ binary: false, columnTypes: [0] });
    expect(m[21]).toMatchObject({ binary: true, columnTypes: [1, 1] });
    expect(m[22]).toMatchObject({ severity: 'ERROR', code: '42P01', message: 'no table', hint: 'create it' });
    expect(m[23]).toMatchObject({ severity: 'NOTICE', message: 'careful' });
  });
});

describe('backend decoders reject malformed bodies with ShardgateError', () => {
  const decoders = [
    decodeRowDescription,
    decodeDataRow,
    decodeCommandComplete,
    decodeErrorFields,
    readErrorCode,
    decodeParameterStatus,
    decodeBackendKeyData,
    decodeReadyForQuery,
    decodeParameterDescription,
    decodeNotificationResponse,
    decodeCopyResponse,
    decodeAuthentication,
  ];
  const samples = [
    encodeRowDescription([
      { name: 'x', tableOid: 0, column: 0, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
    ]),
    encodeDataRow(['abc', null]),
    encodeCommandComplete('SELECT 1'),
    encodeErrorResponse({ severity: 'ERROR', code: '1', message: 'm' }),
    encodeErrorResponse({ severity: 'ERROR', code: '1', message: 'm' }),
    encodeParameterStatus('a', 'b'),
    encodeBackendKeyData(1, 2),
    encodeReadyForQuery('I'),
    encodeParameterDescription([1, 2]),
    encodeNotificationResponse(1, 'a', 'b'),
    encodeCopyInResponse({ format: 0, columnFormats: [0] }),
    encodeAuthenticationSASL(['SCRAM-SHA-256']),
  ];
  it('every truncation of a valid message', () => {
    decoders.forEach((decode, i) => {
      const msg = samples[i]!;
      for (let cut = 5; cut < msg.length; cut++) {
        let thrown: unknown = null;
        try {
          decode(msg, 5, cut);
        } catch (err) {
          thrown = err;
        }
        // A shorter Authentication body can be another valid message, and readErrorCode stops at the
        // SQLSTATE without reading further; every other decoder must throw.
        if (thrown !== null) expect(thrown).toBeInstanceOf(ShardgateError);
        else expect([decodeAuthentication, readErrorCode]).toContain(decode);
      }
    });
  });
  it('bad DataRow lengths and ReadyForQuery status', () => {
    expect(() => decodeDataRow(hex('44 0000000a 0001 fffffffe'))).toThrow(ShardgateError);
    expect(() => decodeDataRow(hex('44 0000000a ffff 00000000'))).toThrow(ShardgateError);
    expect(() => decodeReadyForQuery(hex('5a 00000005 58'))).toThrow(ShardgateError);
  });
});
