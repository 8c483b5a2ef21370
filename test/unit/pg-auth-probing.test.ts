// User probing on the PostgreSQL port: an unknown user sees the same method and steps as a known
// one, the database is checked only after the password, and salts are stable per name for users
// that cannot log in by password (unknown ones, and configured ones without a password).
import { describe, expect, it } from 'vitest';
import { ScramClient } from '../../src/auth/scram.js';
import { parseConfig } from '../../src/config/load.js';
import { ShardgateError } from '../../src/errors.js';
import { Authenticator, methodForUnknownUsers } from '../../src/protocol/postgres/client-auth.js';
import type { PgClientSession } from '../../src/protocol/postgres/client-session.js';
import type { SessionServices } from '../../src/protocol/postgres/services.js';
import { newSessionState } from '../../src/protocol/postgres/session-state.js';

const USERS = [
  { name: 'app', password: 'app' },
  { name: 'nopw', password: '' },
  { name: 'old', password: 'old', auth: 'md5' },
];

function configWith(users: unknown[]) {
  return parseConfig(
    { users, databases: ['shardgate'], shards: [{ name: 's0', primary: { port: 5432 } }] },
    'test',
  );
}

/** One authentication, driven message by message; `sent` holds what the client would receive. */
function authFor(user: string, database: string, users: unknown[] = USERS) {
  const sent: Buffer[] = [];
  let authenticated = false;
  const session = {
    state: newSessionState(user, database, new Map()),
    write: (b: Buffer) => sent.push(b),
  } as unknown as PgClientSession;
  const services = { config: configWith(users) } as unknown as SessionServices;
  const auth = new Authenticator(session, services, async () => {
    authenticated = true;
  });
  return { auth, sent, authenticated: () => authenticated };
}

/** An unknown name this process asks for `method` (the choice is keyed per process). */
function unknownNameAsked(method: 'md5' | 'scram-sha-256', users: unknown[] = USERS): string {
  const configured = configWith(users).users;
  for (let i = 0; ; i++) if (methodForUnknownUsers(configured, `ghost${i}`) === method) return `ghost${i}`;
}
const GHOST = unknownNameAsked('scram-sha-256');

const authCode = (msg: Buffer) => (msg[0] === 0x52 ? msg.readInt32BE(5) : -1);
const frame = (payload: Buffer) => {
  const head = Buffer.alloc(5);
  head[0] = 0x70;
  head.writeInt32BE(payload.length + 4, 1);
  return Buffer.concat([head, payload]);
};
const saslInitial = (data: string) => {
  const len = Buffer.alloc(4);
  len.writeInt32BE(Buffer.byteLength(data));
  return frame(Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), len, Buffer.from(data)]));
};

/** Runs SCRAM with `password`; returns the server-first message and the error thrown, if any. */
function scram(user: string, database: string, password: string) {
  const run = authFor(user, database);
  run.auth.start();
  expect(authCode(run.sent[0]!)).toBe(10); // AuthenticationSASL
  const client = new ScramClient(password);
  run.auth.onMessage(0x70, saslInitial(client.clientFirst()));
  const serverFirst = run.sent[1]!.subarray(9).toString();
  let error: ShardgateError | null = null;
  try {
    run.auth.onMessage(0x70, frame(Buffer.from(client.clientFinal(serverFirst))));
  } catch (err) {
    error = err as ShardgateError;
  }
  return { serverFirst, error, authenticated: run.authenticated() };
}

describe('PostgreSQL user probing', () => {
  it('asks a known user with an unknown database for the password first', () => {
    const run = authFor('app', 'nope');
    run.auth.start();
    expect(authCode(run.sent[0]!)).toBe(10);
    expect(scram('app', 'nope', 'app').error?.code).toBe('UNKNOWN_DATABASE');
    expect(scram('app', 'nope', 'wrong').error?.code).toBe('AUTH_FAILED');
    expect(scram('app', 'shardgate', 'app')).toMatchObject({ error: null, authenticated: true });
  });

  it('an unknown user fails exactly like a wrong password, whatever the database', () => {
    const known = scram('app', 'nope', 'wrong').error!;
    const unknown = scram(GHOST, 'nope', 'wrong').error!;
    expect(unknown.sqlstate).toBe(known.sqlstate);
    expect(unknown.message.replace(GHOST, 'U')).toBe(known.message.replace('app', 'U'));
  });

  it('keeps salts stable per name for unknown users and users without a password', () => {
    const salt = (first: string) => /,s=([^,]+),/.exec(first)?.[1];
    for (const user of [GHOST, 'nopw', 'app']) {
      expect(salt(scram(user, 'shardgate', 'x').serverFirst), user).toBe(
        salt(scram(user, 'shardgate', 'y').serverFirst),
      );
    }
    expect(scram('nopw', 'shardgate', '').error?.code).toBe('AUTH_FAILED');
  });

  it('asks unknown users for the method every password user shares', () => {
    const scramOnly = [
      { name: 'app', password: 'app' },
      { name: 't', password: '', auth: 'trust' },
    ];
    expect(methodForUnknownUsers(configWith(scramOnly).users, 'ghost')).toBe('scram-sha-256');
    const md5Only = [
      { name: 'old', password: 'old', auth: 'md5' },
      { name: 't', password: '', auth: 'trust' },
    ];
    expect(methodForUnknownUsers(configWith(md5Only).users, 'ghost')).toBe('md5');
    const run = authFor('ghost', 'shardgate', md5Only);
    run.auth.start();
    expect(authCode(run.sent[0]!)).toBe(5); // AuthenticationMD5Password, as for "old"
    expect(() => run.auth.onMessage(0x70, frame(Buffer.from('md5deadbeef\0')))).toThrow(ShardgateError);
  });

  it('in a config mixing md5 and SCRAM users, the method asked for does not tell unknown names from users', () => {
    // One md5 user and one SCRAM user: each unknown name gets md5 or SCRAM, about half each.
    const mixed = [
      { name: 'app', password: 'app' },
      { name: 'old', password: 'old', auth: 'md5' },
    ];
    const configured = configWith(mixed).users;
    const names = Array.from({ length: 400 }, (_, i) => `probe${i}`);
    const asked = names.map((n) => methodForUnknownUsers(configured, n));
    const md5Share = asked.filter((m) => m === 'md5').length / names.length;
    expect(md5Share).toBeGreaterThan(0.3);
    expect(md5Share).toBeLessThan(0.7);
    // Stable per name: asking again tells nothing new.
    expect(names.map((n) => methodForUnknownUsers(configured, n))).toEqual(asked);
    // Known users keep their own method.
    const first = (user: string) => {
      const run = authFor(user, 'shardgate', mixed);
      run.auth.start();
      return authCode(run.sent[0]!);
    };
    expect(first('old')).toBe(5);
    expect(first('app')).toBe(10);
    // An unknown name asked for md5 fails exactly like the md5 user's wrong password.
    const ghost = unknownNameAsked('md5', mixed);
    expect(first(ghost)).toBe(5);
    const fail = (user: string) => {
      const run = authFor(user, 'shardgate', mixed);
      run.auth.start();
      try {
        run.auth.onMessage(0x70, frame(Buffer.from('md5deadbeefdeadbeefdeadbeefdeadbeef\0')));
      } catch (err) {
        return err as ShardgateError;
      }
      throw new Error('accepted');
    };
    const known = fail('old');
    const unknown = fail(ghost);
    expect(unknown.sqlstate).toBe(known.sqlstate);
    expect(unknown.message.replace(ghost, 'U')).toBe(known.message.replace('old', 'U'));
  });
});
