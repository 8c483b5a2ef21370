import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import {
  encodeBind,
  encodeCancelRequest,
  encodeClose,
  encodeCopyData,
  encodeCopyDone,
  encodeCopyFail,
  encodeDescribe,
  encodeExecute,
  encodeFlush,
  encodeFunctionCall,
  encodeGSSENCRequest,
  encodeParse,
  encodePassword,
  encodeQuery,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  encodeSSLRequest,
  encodeStartupMessage,
  encodeSync,
  encodeTerminate,
} from '../../src/protocol/postgres/frontend-encoders.js';
import {
  type BindMessage,
  decodeBind,
  decodeClose,
  decodeCopyData,
  decodeCopyFail,
  decodeDescribe,
  decodeEmpty,
  decodeExecute,
  decodeFunctionCall,
  decodeParse,
  decodePassword,
  decodeQuery,
  decodeSASLInitialResponse,
  decodeSASLResponse,
  decodeStartupPacket,
  renameStatement,
} from '../../src/protocol/postgres/frontend-messages.js';
import { unnamedBind } from '../support/unit-pg-messages.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function expectViolation(fn: () => unknown, what?: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ShardgateError);
    expect((err as ShardgateError).code).toBe('PROTOCOL_VIOLATION');
    if (what) expect((err as ShardgateError).message).toContain(what);
    return;
  }
  throw new Error('expected a PROTOCOL_VIOLATION');
}

describe('frontend messages: exact bytes (written by hand from the protocol docs)', () => {
  it('Query', () => {
    expect(encodeQuery('SELECT 1')).toEqual(hex('51 0000000d 53454c4543542031 00'));
  });
  it('Sync, Flush, Terminate, CopyDone', () => {
    expect(encodeSync()).toEqual(hex('53 00000004'));
    expect(encodeFlush()).toEqual(hex('48 00000004'));
    expect(encodeTerminate()).toEqual(hex('58 00000004'));
    expect(encodeCopyDone()).toEqual(hex('63 00000004'));
  });
  it('Parse', () => {
    expect(encodeParse({ name: 's1', query: 'select $1', paramTypes: [23] })).toEqual(
      hex('50 00000017 733100 73656c6563742024 3100 0001 00000017'),
    );
  });
  it('Bind', () => {
    const bind: BindMessage = {
      portal: '',
      statement: 's1',
      paramFormats: [],
      values: [Buffer.from('42'), null],
      resultFormats: [1],
    };
    expect(encodeBind(bind)).toEqual(hex('42 0000001a 00 733100 0000 0002 00000002 3432 ffffffff 0001 0001'));
  });
  it('startup-phase messages', () => {
    expect(encodeStartupMessage({ user: 'bob' })).toEqual(hex('00000012 00030000 7573657200 626f6200 00'));
    expect(encodeSSLRequest()).toEqual(hex('00000008 04d2162f'));
    expect(encodeGSSENCRequest()).toEqual(hex('00000008 04d21630'));
    expect(encodeCancelRequest(1, 2)).toEqual(hex('00000010 04d2162e 00000001 00000002'));
  });
  it('Describe, Close, Execute', () => {
    expect(encodeDescribe({ kind: 'S', name: 'a' })).toEqual(hex('44 00000007 53 6100'));
    expect(encodeClose({ kind: 'P', name: '' })).toEqual(hex('43 00000006 50 00'));
    expect(encodeExecute({ portal: '', maxRows: 10 })).toEqual(hex('45 00000009 00 0000000a'));
  });
});

describe('frontend messages: same bytes as pg-protocol serialize', () => {
  it('matches the driver serializer', () => {
    expect(encodeQuery('select 1')).toEqual(serialize.query('select 1'));
    expect(encodeParse({ name: 'x', query: 'select $1::int', paramTypes: [23] })).toEqual(
      serialize.parse({ name: 'x', text: 'select $1::int', types: [23] }),
    );
    expect(encodeExecute({ portal: 'p', maxRows: 5 })).toEqual(serialize.execute({ portal: 'p', rows: 5 }));
    expect(encodeDescribe({ kind: 'P', name: 'p' })).toEqual(serialize.describe({ type: 'P', name: 'p' }));
    expect(encodeClose({ kind: 'S', name: 's' })).toEqual(serialize.close({ type: 'S', name: 's' }));
    expect(encodeSync()).toEqual(serialize.sync());
    expect(encodeFlush()).toEqual(serialize.flush());
    expect(encodeTerminate()).toEqual(serialize.end());
    expect(encodeCopyData(Buffer.from('a\tb\n'))).toEqual(serialize.copyData(Buffer.from('a\tb\n')));
    expect(encodeCopyDone()).toEqual(serialize.copyDone());
    expect(encodeCopyFail('nope')).toEqual(serialize.copyFail('nope'));
    expect(encodePassword('md5abc')).toEqual(serialize.password('md5abc'));
    expect(encodeSASLInitialResponse('SCRAM-SHA-256', 'n,,n=*,r=abc')).toEqual(
      serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=*,r=abc'),
    );
    expect(encodeSASLResponse('c=biws')).toEqual(serialize.sendSCRAMClientFinalMessage('c=biws'));
    // pg-protocol appends client_encoding itself.
    expect(encodeStartupMessage({ user: 'u', database: 'd', client_encoding: 'UTF8' })).toEqual(
      serialize.startup({ user: 'u', database: 'd' }),
    );
    expect(encodeSSLRequest()).toEqual(serialize.requestSsl());
    expect(encodeCancelRequest(77, -5)).toEqual(serialize.cancel(77, -5));
    expect(
      encodeBind({
        portal: 'p',
        statement: 's',
        paramFormats: [0, 0],
        values: [Buffer.from('1'), null],
        resultFormats: [0],
      }),
    ).toEqual(serialize.bind({ portal: 'p', statement: 's', values: ['1', null] }));
  });
});

describe('frontend messages: round trips', () => {
  it('startup packets', () => {
    const params = new Map([
      ['user', 'alice'],
      ['database', 'db'],
      ['application_name', 'ünï'],
    ]);
    const s = decodeStartupPacket(encodeStartupMessage(params));
    expect(s).toEqual({ kind: 'startup', version: 196608, params });
    expect(decodeStartupPacket(encodeSSLRequest())).toEqual({ kind: 'ssl' });
    expect(decodeStartupPacket(encodeGSSENCRequest())).toEqual({ kind: 'gssenc' });
    expect(decodeStartupPacket(encodeCancelRequest(-1, 2147483647))).toEqual({
      kind: 'cancel',
      processId: -1,
      secretKey: 2147483647,
    });
  });

  it('every typed message', () => {
    expect(decodeQuery(encodeQuery('select ☃'))).toBe('select ☃');
    const parse = { name: 'stmt', query: 'select $1, $2', paramTypes: [0, 4294967295] };
    expect(decodeParse(encodeParse(parse))).toEqual(parse);
    const bind: BindMessage = {
      portal: 'p1',
      statement: 'stmt',
      paramFormats: [1, 0],
      values: [Buffer.from([0, 0, 0, 1]), null],
      resultFormats: [0, 1, 1],
    };
    expect(decodeBind(encodeBind(bind))).toEqual(bind);
    expect(decodeDescribe(encodeDescribe({ kind: 'P', name: 'x' }))).toEqual({ kind: 'P', name: 'x' });
    expect(decodeClose(encodeClose({ kind: 'S', name: 'y' }))).toEqual({ kind: 'S', name: 'y' });
    expect(decodeExecute(encodeExecute({ portal: 'p', maxRows: 0 }))).toEqual({ portal: 'p', maxRows: 0 });
    for (const m of [encodeSync(), encodeFlush(), encodeTerminate(), encodeCopyDone()]) decodeEmpty(m);
    expect(decodeCopyData(encodeCopyData(Buffer.from([1, 2, 3])))).toEqual(Buffer.from([1, 2, 3]));
    expect(decodeCopyFail(encodeCopyFail('bad row'))).toBe('bad row');
    const call = { oid: 1598, argFormats: [1], args: [Buffer.from('x'), null], resultFormat: 1 };
    expect(decodeFunctionCall(encodeFunctionCall(call))).toEqual(call);
    expect(decodePassword(encodePassword('secret'))).toBe('secret');
    const initial = decodeSASLInitialResponse(encodeSASLInitialResponse('SCRAM-SHA-256', 'n,,n=*,r=x'));
    expect(initial.mechanism).toBe('SCRAM-SHA-256');
    expect(initial.data.toString()).toBe('n,,n=*,r=x');
    expect(decodeSASLInitialResponse(encodeSASLInitialResponse('M', null)).data.length).toBe(0);
    expect(decodeSASLResponse(encodeSASLResponse('c=biws,r=x,p=y')).toString()).toBe('c=biws,r=x,p=y');
  });

  it('decodes a (buf, bodyStart, end) view inside a larger buffer', () => {
    const msg = encodeParse({ name: 'a', query: 'select 1', paramTypes: [] });
    const big = Buffer.concat([Buffer.from('junk'), msg, Buffer.from('more')]);
    expect(decodeParse(big, 4 + 5, 4 + msg.length)).toEqual({ name: 'a', query: 'select 1', paramTypes: [] });
  });
});

describe('frontend messages: malformed input', () => {
  it('truncated messages name the message', () => {
    const parse = encodeParse({ name: 's', query: 'select 1', paramTypes: [23, 25] });
    for (let cut = 5; cut < parse.length; cut++) expectViolation(() => decodeParse(parse, 5, cut), 'Parse');
    const bind = unnamedBind([Buffer.from('abc')]);
    for (let cut = 5; cut < bind.length; cut++) expectViolation(() => decodeBind(bind, 5, cut), 'Bind');
  });
  it('Parse and Bind with more than 32,767 parameters (counts are unsigned 16-bit)', () => {
    const paramTypes = new Array<number>(40_000).fill(23);
    const parse = encodeParse({ name: 'big', query: 'select 1', paramTypes });
    expect(parse.readUInt16BE(5 + 4 + 9)).toBe(40_000);
    expect(decodeParse(parse).paramTypes.length).toBe(40_000);
    const values = new Array<Buffer | null>(40_000).fill(null);
    const bind = encodeBind({ portal: '', statement: 'big', paramFormats: [], values, resultFormats: [] });
    expect(decodeBind(bind).values.length).toBe(40_000);
  });
  it('trailing bytes, bad counts, bad kinds', () => {
    expectViolation(() => decodeQuery(Buffer.concat([encodeQuery('x'), Buffer.from([1])])), 'trailing');
    // Counts are unsigned: 0xffff is 65,535 parameter types, more than the message holds.
    expectViolation(() => decodeParse(hex('50 0000000b 00 00 ffff')), 'count 65535 exceeds');
    expectViolation(() => decodeBind(hex('42 0000000f 00 00 0000 0001 fffffffe 0000')), 'negative length');
    expectViolation(() => decodeDescribe(hex('44 00000006 58 00')), 'target type');
    expectViolation(() => decodeEmpty(hex('53 00000005 00'), 5, 6, 'Sync'), 'Sync');
    expectViolation(() => decodeStartupPacket(hex('00000009 04d2162f 00')), 'trailing');
    expectViolation(() => decodeStartupPacket(hex('0000000d 00030000 7573657200')), 'unterminated');
    // Formats must be 0, 1 or one per parameter.
    expectViolation(() => decodeBind(unnamedBind([null], [0, 0])), 'formats');
  });
});

describe('renameStatement', () => {
  it('renames Parse, Bind, Describe S and Close S and keeps the rest', () => {
    const parse = encodeParse({ name: 'client_1', query: 'select $1', paramTypes: [23] });
    expect(decodeParse(renameStatement(parse, 'sg_abc'))).toEqual({
      name: 'sg_abc',
      query: 'select $1',
      paramTypes: [23],
    });
    const bind: BindMessage = {
      portal: 'p',
      statement: 'client_1',
      paramFormats: [],
      values: [null],
      resultFormats: [],
    };
    expect(decodeBind(renameStatement(encodeBind(bind), 'a_much_longer_server_name'))).toEqual({
      ...bind,
      statement: 'a_much_longer_server_name',
    });
    expect(decodeDescribe(renameStatement(encodeDescribe({ kind: 'S', name: 'x' }), ''))).toEqual({
      kind: 'S',
      name: '',
    });
    expect(decodeClose(renameStatement(encodeClose({ kind: 'S', name: '' }), 'y'))).toEqual({
      kind: 'S',
      name: 'y',
    });
  });
  it('works on a view and refuses portals and other messages', () => {
    const parse = encodeParse({ name: 'n', query: 'q', paramTypes: [] });
    const big = Buffer.concat([Buffer.from('xx'), parse]);
    expect(decodeParse(renameStatement(big, 'm', 2, big.length))).toEqual({
      name: 'm',
      query: 'q',
      paramTypes: [],
    });
    expect(() => renameStatement(encodeDescribe({ kind: 'P', name: 'x' }), 'y')).toThrow(ShardgateError);
    expect(() => renameStatement(encodeQuery('x'), 'y')).toThrow(ShardgateError);
    expectViolation(() => renameStatement(hex('50 00000005 61'), 'y'));
  });
});
