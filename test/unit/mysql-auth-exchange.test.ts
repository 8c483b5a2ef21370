// The server side of MySQL authentication, driven with what real clients compute: native and
// caching_sha2 tokens, plugin switches, full authentication over TLS or with the RSA key, the
// fast-auth cache, hashed config passwords, and unknown users failing like wrong passwords.
import { describe, expect, it } from 'vitest';
import { userSchema } from '../../src/config/schema.js';
import type { ShardgateError } from '../../src/errors.js';
import {
  makeScramble,
  nativeToken,
  rsaEncryptPassword,
  sha2Token,
} from '../../src/protocol/mysql/auth-crypto.js';
import { AuthExchange, NATIVE, SHA2 } from '../../src/protocol/mysql/client-auth.js';
import { decodeAuthSwitchRequest } from '../../src/protocol/mysql/handshake.js';
import { Sha2AuthState } from '../../src/protocol/mysql/password-check.js';
import { makeScramVerifier } from '../../src/protocol/postgres/scram.js';

const users = [
  userSchema.parse({ name: 'sha', password: 'pw1', mysqlAuth: SHA2 }),
  userSchema.parse({ name: 'nat', password: 'pw2', mysqlAuth: NATIVE }),
  userSchema.parse({ name: 'hashed', password: makeScramVerifier('pw3'), mysqlAuth: SHA2 }),
  userSchema.parse({ name: 'hashednat', password: makeScramVerifier('pw4'), mysqlAuth: NATIVE }),
  userSchema.parse({ name: 'empty', password: '', mysqlAuth: SHA2 }),
];

interface Run {
  sent: Buffer[];
  result: Promise<{ ok: string } | { error: ShardgateError }>;
  exchange: AuthExchange;
  scramble: Buffer;
}

function start(
  sha2: Sha2AuthState,
  user: string,
  plugin: string | null,
  token: (scramble: Buffer) => Buffer,
  secure = false,
): Run {
  const scramble = makeScramble();
  const sent: Buffer[] = [];
  let settle!: (v: { ok: string } | { error: ShardgateError }) => void;
  const result = new Promise<{ ok: string } | { error: ShardgateError }>((r) => {
    settle = r;
  });
  const exchange = new AuthExchange({
    users,
    sha2,
    scramble,
    user,
    plugin,
    response: token(scramble),
    send: (p) => sent.push(p),
    secure: () => secure,
    onSuccess: (u) => settle({ ok: u.name }),
    onFailure: (error) => settle({ error }),
  });
  exchange.start();
  return { sent, result, exchange, scramble };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

/** Plays a caching_sha2 client through full authentication without TLS. */
async function fullAuthWithRsa(run: Run, password: string): Promise<void> {
  expect([...run.sent.at(-1)!]).toEqual([0x01, 0x04]);
  run.exchange.onPacket(Buffer.from([0x02]));
  for (let i = 0; i < 200 && run.sent.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  const pem = run.sent.at(-1)!.subarray(1).toString();
  expect(pem).toContain('BEGIN PUBLIC KEY');
  run.exchange.onPacket(rsaEncryptPassword(password, run.scramble, pem));
}

describe('AuthExchange', () => {
  it('mysql_native_password: right and wrong passwords', async () => {
    const sha2 = new Sha2AuthState();
    expect(await start(sha2, 'nat', NATIVE, (s) => nativeToken('pw2', s)).result).toEqual({ ok: 'nat' });
    const bad = await start(sha2, 'nat', NATIVE, (s) => nativeToken('nope', s)).result;
    expect('error' in bad && bad.error.mysqlErrno).toBe(1045);
  });

  it('switches a client to the user plugin and verifies the switch response', async () => {
    const run = start(new Sha2AuthState(), 'nat', SHA2, (s) => sha2Token('pw2', s));
    const sw = decodeAuthSwitchRequest(run.sent[0]!);
    expect(sw.plugin).toBe(NATIVE);
    expect(sw.data.equals(run.scramble)).toBe(true);
    run.exchange.onPacket(nativeToken('pw2', sw.data));
    expect(await run.result).toEqual({ ok: 'nat' });
  });

  it('always switches on COM_CHANGE_USER (a fresh scramble), whatever the client answered', async () => {
    const scramble = makeScramble();
    const sent: Buffer[] = [];
    let ok = '';
    const exchange = new AuthExchange({
      users,
      sha2: new Sha2AuthState(),
      scramble,
      user: 'nat',
      plugin: NATIVE,
      response: nativeToken('pw2', makeScramble()),
      alwaysSwitch: true,
      send: (p) => sent.push(p),
      secure: () => false,
      onSuccess: (u) => {
        ok = u.name;
      },
      onFailure: () => undefined,
    });
    exchange.start();
    expect(decodeAuthSwitchRequest(sent[0]!).data.equals(scramble)).toBe(true);
    exchange.onPacket(nativeToken('pw2', scramble));
    expect(ok).toBe('nat');
  });

  it('caching_sha2_password: RSA full auth first, then fast auth from the cache', async () => {
    const sha2 = new Sha2AuthState();
    const first = start(sha2, 'sha', SHA2, (s) => sha2Token('pw1', s));
    await fullAuthWithRsa(first, 'pw1');
    expect(await first.result).toEqual({ ok: 'sha' });
    const fast = start(sha2, 'sha', SHA2, (s) => sha2Token('pw1', s));
    expect([...fast.sent[0]!]).toEqual([0x01, 0x03]);
    expect(await fast.result).toEqual({ ok: 'sha' });
    const wrong = await start(sha2, 'sha', SHA2, (s) => sha2Token('bad', s)).result;
    expect('error' in wrong && wrong.error.code).toBe('AUTH_FAILED');
  });

  it('full auth: clear password over TLS; refused with a way out on an unencrypted connection', async () => {
    const tlsRun = start(new Sha2AuthState(), 'sha', SHA2, (s) => sha2Token('pw1', s), true);
    tlsRun.exchange.onPacket(Buffer.from('pw1\0'));
    expect(await tlsRun.result).toEqual({ ok: 'sha' });
    const plain = start(new Sha2AuthState(), 'sha', SHA2, (s) => sha2Token('pw1', s));
    plain.exchange.onPacket(Buffer.from('pw1\0'));
    const r = await plain.result;
    expect('error' in r && r.error.code).toBe('MYSQL_AUTH_UNAVAILABLE');
    expect('error' in r && r.error.message).toContain('TLS');
  });

  it('hashed config passwords: full auth checks the verifier; native is refused with the reason', async () => {
    const run = start(new Sha2AuthState(), 'hashed', SHA2, (s) => sha2Token('pw3', s));
    await fullAuthWithRsa(run, 'pw3');
    expect(await run.result).toEqual({ ok: 'hashed' });
    const nat = await start(new Sha2AuthState(), 'hashednat', NATIVE, (s) => nativeToken('pw4', s)).result;
    expect('error' in nat && nat.error.code).toBe('MYSQL_AUTH_UNAVAILABLE');
  });

  it('unknown users go through the same exchange and fail like a wrong password', async () => {
    const run = start(new Sha2AuthState(), 'ghost', SHA2, (s) => sha2Token('x', s));
    await fullAuthWithRsa(run, 'x');
    const r = await run.result;
    expect('error' in r && r.error.code).toBe('AUTH_FAILED');
    await tick();
  });

  it('empty passwords', async () => {
    expect(await start(new Sha2AuthState(), 'empty', SHA2, () => Buffer.alloc(0)).result).toEqual({
      ok: 'empty',
    });
    const r = await start(new Sha2AuthState(), 'sha', SHA2, () => Buffer.alloc(0)).result;
    expect('error' in r).toBe(true);
  });
});
