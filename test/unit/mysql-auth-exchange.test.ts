// The server side of MySQL authentication, driven with what real clients compute: native and
// caching_sha2 tokens, plugin switches, full authentication over TLS or with the RSA key, the
// fast-auth cache, hashed config passwords, and unknown users failing like wrong passwords.
import { describe, expect, it } from 'vitest';
import { makeScramVerifier } from '../../src/auth/scram.js';
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
import { methodForUnknownUser } from '../../src/protocol/unknown-user-method.js';

const users = [
  userSchema.parse({ name: 'sha', password: 'pw1', mysqlAuth: SHA2 }),
  userSchema.parse({ name: 'nat', password: 'pw2', mysqlAuth: NATIVE }),
  userSchema.parse({ name: 'hashed', password: makeScramVerifier('pw3'), mysqlAuth: SHA2 }),
  userSchema.parse({ name: 'hashednat', password: makeScramVerifier('pw4'), mysqlAuth: NATIVE }),
  userSchema.parse({ name: 'empty', password: '', mysqlAuth: SHA2 }),
  userSchema.parse({ name: 'emptynat', password: '', mysqlAuth: NATIVE }),
  userSchema.parse({ name: 'trusted', password: '', auth: 'trust', mysqlAuth: SHA2 }),
];

/** An unknown name this process asks for `plugin` (the choice is keyed per process). */
function unknownNameAsked(plugin: string): string {
  const plugins = users.flatMap((u) => (u.auth === 'trust' ? [] : [u.mysqlAuth]));
  for (let i = 0; ; i++) if (methodForUnknownUser(`ghost${i}`, plugins, SHA2) === plugin) return `ghost${i}`;
}
const GHOST = unknownNameAsked(SHA2);

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
  onConfigProblem?: (user: string, problem: string) => void,
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
    ...(onConfigProblem ? { onConfigProblem } : {}),
  });
  exchange.start();
  return { sent, result, exchange, scramble };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

/** Plays a caching_sha2 client through full authentication without TLS. */
async function fullAuthWithRsa(run: Run, password: string): Promise<void> {
  expect([...run.sent.at(-1)!]).toEqual([0x01, 0x04]);
  run.exchange.onPacket(Buffer.from([0x02]));
  const sentBefore = run.sent.length;
  // The RSA key pair is generated on first use (seconds on a loaded machine): wait for it with a deadline.
  for (let i = 0; i < 3000 && run.sent.length === sentBefore; i++)
    await new Promise((r) => setTimeout(r, 10));
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
    // A wrong fast-auth answer goes to full authentication, as an unknown user's does.
    const wrong = start(sha2, 'sha', SHA2, (s) => sha2Token('bad', s));
    await fullAuthWithRsa(wrong, 'bad');
    const refused = await wrong.result;
    expect('error' in refused && refused.error.code).toBe('AUTH_FAILED');
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

  it('hashed config passwords: full auth checks the verifier; native is refused like a wrong password', async () => {
    const run = start(new Sha2AuthState(), 'hashed', SHA2, (s) => sha2Token('pw3', s));
    await fullAuthWithRsa(run, 'pw3');
    expect(await run.result).toEqual({ ok: 'hashed' });
    const problems: string[] = [];
    const nat = await start(
      new Sha2AuthState(),
      'hashednat',
      NATIVE,
      (s) => nativeToken('pw4', s),
      false,
      (u, p) => problems.push(`${u}: ${p}`),
    ).result;
    // The client learns nothing about the user; the operator's log gets the reason.
    expect('error' in nat && nat.error.code).toBe('AUTH_FAILED');
    expect('error' in nat && nat.error.message).not.toContain('mysql_native_password');
    expect(problems).toEqual([expect.stringMatching(/^hashednat: its password is stored hashed/)]);
  });

  it('unknown users go through the same exchange and fail like a wrong password', async () => {
    const run = start(new Sha2AuthState(), GHOST, SHA2, (s) => sha2Token('x', s));
    await fullAuthWithRsa(run, 'x');
    const r = await run.result;
    expect('error' in r && r.error.code).toBe('AUTH_FAILED');
    await tick();
  });

  it('empty passwords: only `auth: trust` logs in without one', async () => {
    expect(await start(new Sha2AuthState(), 'trusted', SHA2, () => Buffer.alloc(0)).result).toEqual({
      ok: 'trusted',
    });
    for (const [user, plugin] of [
      ['empty', SHA2],
      ['emptynat', NATIVE],
      ['sha', SHA2],
    ] as const) {
      const r = await start(new Sha2AuthState(), user, plugin, () => Buffer.alloc(0)).result;
      expect('error' in r && r.error.code, user).toBe('AUTH_FAILED');
    }
  });

  it('known and unknown users see the same steps for an empty or a wrong password', async () => {
    const sha2 = new Sha2AuthState();
    // Fill the fast-auth cache of a known user first: even then a wrong answer looks the same.
    const first = start(sha2, 'sha', SHA2, (s) => sha2Token('pw1', s));
    await fullAuthWithRsa(first, 'pw1');
    expect(await first.result).toEqual({ ok: 'sha' });
    const trace = async (user: string, token: (s: Buffer) => Buffer) => {
      const run = start(sha2, user, SHA2, token);
      const settled = await Promise.race([run.result, tick().then(() => null)]);
      const steps = run.sent.map((p) => [...p.subarray(0, 2)].join(','));
      if (settled === null) {
        await fullAuthWithRsa(run, 'wrong');
        const r = await run.result;
        return {
          steps,
          full: true,
          code: 'error' in r ? r.error.code : 'ok',
          message: 'error' in r ? r.error.message.replace(user, 'U') : '',
        };
      }
      return {
        steps,
        full: false,
        code: 'error' in settled ? settled.error.code : 'ok',
        message: 'error' in settled ? settled.error.message.replace(user, 'U') : '',
      };
    };
    expect(await trace('sha', () => Buffer.alloc(0))).toEqual(await trace(GHOST, () => Buffer.alloc(0)));
    expect(await trace('sha', (s) => sha2Token('wrong', s))).toEqual(
      await trace(GHOST, (s) => sha2Token('wrong', s)),
    );
    expect(await trace('empty', (s) => sha2Token('wrong', s))).toEqual(
      await trace(GHOST, (s) => sha2Token('wrong', s)),
    );
  });

  it('in a config mixing plugins, an unknown name is asked for either, like the users', async () => {
    // Three native and three caching_sha2 password users: unknown names get both plugins.
    const asked = Array.from({ length: 200 }, (_, i) => {
      const run = start(new Sha2AuthState(), `probe${i}`, SHA2, (s) => sha2Token('x', s));
      const switched = run.sent[0]?.[0] === 0xfe ? decodeAuthSwitchRequest(run.sent[0]).plugin : SHA2;
      return switched;
    });
    const nativeShare = asked.filter((p) => p === NATIVE).length / asked.length;
    expect(nativeShare).toBeGreaterThan(0.3);
    expect(nativeShare).toBeLessThan(0.7);
    // A name asked for mysql_native_password fails like a native user's wrong password.
    const ghost = unknownNameAsked(NATIVE);
    const fail = async (user: string) => {
      const run = start(new Sha2AuthState(), user, NATIVE, (s) => nativeToken('wrong', s));
      const r = await run.result;
      return {
        steps: run.sent.length,
        code: 'error' in r ? r.error.code : 'ok',
        message: 'error' in r ? r.error.message.replace(user, 'U') : '',
      };
    };
    expect(await fail(ghost)).toEqual(await fail('nat'));
    await tick();
  });
});
