// Connection-phase packets and password plugins, cross-checked against mysql2's own client code
// (what real clients send) and against exact bytes.
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import {
  makeScramble,
  nativeToken,
  nativeVerifier,
  nativeVerify,
  rsaDecryptPassword,
  rsaEncryptPassword,
  sha2Token,
  sha2Verifier,
  sha2Verify,
} from '../../src/protocol/mysql/auth-crypto.js';
import { CAP, MARIADB_CAP, SERVER_CAPABILITIES } from '../../src/protocol/mysql/constants.js';
import {
  decodeAuthSwitchRequest,
  decodeChangeUser,
  decodeHandshakeResponse,
  decodeHandshakeV10,
  encodeAuthSwitchRequest,
  encodeHandshakeResponse,
  encodeHandshakeV10,
  encodeSslRequest,
  isSslRequest,
} from '../../src/protocol/mysql/handshake.js';
import { PacketWriter } from '../../src/protocol/mysql/packet-io.js';

const require = createRequire(import.meta.url);
// mysql2's internals are not in its package exports: load them by path.
const mysql2Lib = (file: string) => join(dirname(require.resolve('mysql2')), 'lib', file);
const auth41 = require(mysql2Lib('auth_41.js')) as {
  calculateToken(password: string, s1: Buffer, s2: Buffer): Buffer;
};
const sha2Plugin = require(mysql2Lib('auth_plugins/caching_sha2_password.js')) as {
  calculateToken(password: string, scramble: Buffer): Buffer;
};
const HandshakeResponse = require(mysql2Lib('packets/handshake_response.js'));
const Handshake = require(mysql2Lib('packets/handshake.js'));
const Packet = require(mysql2Lib('packets/packet.js'));

describe('Handshake v10', () => {
  it('round-trips and is read correctly by mysql2', () => {
    const scramble = makeScramble();
    const payload = encodeHandshakeV10({
      serverVersion: '10.11.6-MariaDB-shardgate',
      connectionId: 0x40000007,
      scramble,
      capabilities: SERVER_CAPABILITIES,
      mariadbCapabilities: 0,
      collation: 45,
      status: 2,
      authPlugin: 'caching_sha2_password',
    });
    const h = decodeHandshakeV10(payload);
    expect(h.serverVersion).toBe('10.11.6-MariaDB-shardgate');
    expect(h.connectionId).toBe(0x40000007);
    expect(h.scramble.equals(scramble)).toBe(true);
    expect(h.capabilities).toBe(SERVER_CAPABILITIES);
    expect(h.authPlugin).toBe('caching_sha2_password');
    const framed = Buffer.concat([Buffer.from([payload.length & 0xff, payload.length >> 8, 0, 0]), payload]);
    const theirs = Handshake.fromPacket(new Packet(0, framed, 0, framed.length));
    expect(theirs.connectionId).toBe(0x40000007);
    expect(
      Buffer.concat([theirs.authPluginData1, theirs.authPluginData2]).subarray(0, 20).equals(scramble),
    ).toBe(true);
    expect(theirs.authPluginName).toBe('caching_sha2_password');
  });

  it('scrambles are 20 printable bytes without NUL', () => {
    for (let i = 0; i < 50; i++) {
      const s = makeScramble();
      expect(s.length).toBe(20);
      for (const b of s) expect(b >= 0x21 && b <= 0x7e).toBe(true);
    }
  });
});

describe('HandshakeResponse41', () => {
  const scramble = makeScramble();
  it('decodes what mysql2 sends (lenenc auth data, database, plugin, attributes)', () => {
    const flags =
      CAP.PROTOCOL_41 |
      CAP.SECURE_CONNECTION |
      CAP.PLUGIN_AUTH |
      CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA |
      CAP.CONNECT_WITH_DB |
      CAP.CONNECT_ATTRS |
      CAP.FOUND_ROWS;
    const packet = new HandshakeResponse({
      user: 'app',
      database: 'shardgate',
      password: 'app',
      authPluginData1: scramble.subarray(0, 8),
      authPluginData2: scramble.subarray(8),
      flags,
      charsetNumber: 224,
      connectAttributes: { _client_name: 'Node-MySQL-2', program: 'x' },
    }).toPacket();
    const payload = packet.buffer.subarray(4);
    const r = decodeHandshakeResponse(payload);
    expect(r.user).toBe('app');
    expect(r.database).toBe('shardgate');
    expect(r.collation).toBe(224);
    expect(r.authPlugin).toBe('mysql_native_password');
    expect(r.attributes.get('_client_name')).toBe('Node-MySQL-2');
    expect(r.capabilities & CAP.FOUND_ROWS).toBeTruthy();
    expect(nativeVerify(r.authResponse, scramble, nativeVerifier('app'))).toBe(true);
    expect(nativeVerify(r.authResponse, scramble, nativeVerifier('wrong'))).toBe(false);
  });

  it('round-trips our own encoding (the backend side) with 1-byte auth length', () => {
    const h = {
      capabilities: CAP.PROTOCOL_41 | CAP.SECURE_CONNECTION | CAP.PLUGIN_AUTH | CAP.CONNECT_WITH_DB,
      // CLIENT_MYSQL (LONG_PASSWORD) clear: MariaDB's extended capabilities are read.
      mariadbCapabilities: MARIADB_CAP.EXTENDED_METADATA,
      maxPacketSize: 1 << 24,
      collation: 45,
      user: 'root',
      authResponse: nativeToken('pw', scramble),
      database: 'shardgate',
      authPlugin: 'mysql_native_password',
      attributes: new Map<string, string>(),
    };
    expect(decodeHandshakeResponse(encodeHandshakeResponse(h))).toEqual(h);
    // With CLIENT_MYSQL set the filler is not capabilities.
    const mysqlClient = { ...h, capabilities: h.capabilities | CAP.LONG_PASSWORD };
    expect(decodeHandshakeResponse(encodeHandshakeResponse(mysqlClient)).mariadbCapabilities).toBe(0);
  });

  it('refuses pre-4.1 clients with a ShardgateError', () => {
    const w = new PacketWriter().u32(CAP.LONG_PASSWORD).u32(0).u8(8).zeros(23).nulString('x').u8(0);
    expect(() => decodeHandshakeResponse(w.payload())).toThrow(ShardgateError);
  });

  it('tells an SSLRequest from a full response', () => {
    const ssl = encodeSslRequest(CAP.PROTOCOL_41, 45);
    expect(ssl.length).toBe(32);
    expect(isSslRequest(ssl)).toBe(true);
    expect(isSslRequest(encodeSslRequest(CAP.PROTOCOL_41, 45).subarray(0, 31))).toBe(false);
  });
});

describe('COM_CHANGE_USER and auth switch', () => {
  it('decodes a change-user packet', () => {
    const scramble = makeScramble();
    const token = sha2Token('pw', scramble);
    const w = new PacketWriter()
      .u8(0x11)
      .nulString('bob')
      .u8(token.length)
      .bytes(token)
      .nulString('db1')
      .u16(45)
      .nulString('caching_sha2_password');
    const c = decodeChangeUser(w.payload(), CAP.SECURE_CONNECTION | CAP.PLUGIN_AUTH);
    expect(c).toMatchObject({
      user: 'bob',
      database: 'db1',
      collation: 45,
      authPlugin: 'caching_sha2_password',
    });
    expect(sha2Verify(c.authResponse, scramble, sha2Verifier('pw'))).toBe(true);
  });

  it('round-trips an auth switch request with exact bytes', () => {
    const data = Buffer.from('0123456789abcdefghij');
    const p = encodeAuthSwitchRequest('mysql_native_password', data);
    expect(p[0]).toBe(0xfe);
    expect(p[p.length - 1]).toBe(0);
    expect(decodeAuthSwitchRequest(p)).toEqual({ plugin: 'mysql_native_password', data });
  });
});

describe('password plugins', () => {
  const scramble = makeScramble();
  it('mysql_native_password tokens match mysql2 and verify', () => {
    const ours = nativeToken('s3cret', scramble);
    const theirs = auth41.calculateToken('s3cret', scramble.subarray(0, 8), scramble.subarray(8));
    expect(ours.equals(theirs)).toBe(true);
    expect(nativeVerify(ours, scramble, nativeVerifier('s3cret'))).toBe(true);
    expect(nativeVerify(ours, makeScramble(), nativeVerifier('s3cret'))).toBe(false);
    expect(nativeVerify(Buffer.alloc(3), scramble, nativeVerifier('s3cret'))).toBe(false);
    expect(nativeToken('', scramble).length).toBe(0);
  });

  it('caching_sha2_password tokens match mysql2 and verify', () => {
    const ours = sha2Token('s3cret', scramble);
    expect(ours.equals(sha2Plugin.calculateToken('s3cret', scramble))).toBe(true);
    expect(sha2Verify(ours, scramble, sha2Verifier('s3cret'))).toBe(true);
    expect(sha2Verify(ours, scramble, sha2Verifier('other'))).toBe(false);
  });

  it('RSA full authentication round-trips; a wrong key yields null', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const enc = rsaEncryptPassword('pässword', scramble, publicKey);
    expect(rsaDecryptPassword(enc, scramble, privateKey)).toBe('pässword');
    expect(rsaDecryptPassword(Buffer.alloc(256, 1), scramble, privateKey)).toBeNull();
  });
});
