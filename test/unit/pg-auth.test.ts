import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { isMd5Hash, md5ClientResponse, md5PasswordHash, md5Verify } from '../../src/auth/md5.js';
import { saslprep } from '../../src/auth/saslprep.js';
import {
  formatScramVerifier,
  makeScramVerifier,
  mockScramSecret,
  parseScramVerifier,
  ScramClient,
  ScramServer,
  scramSecretFromPassword,
} from '../../src/auth/scram.js';
import { ShardgateError } from '../../src/errors.js';

interface PgSaslSession {
  response: string;
  message: string;
}
const pgSasl = createRequire(import.meta.url)('pg/lib/crypto/sasl.js') as {
  startSession(mechanisms: string[]): PgSaslSession;
  continueSession(session: PgSaslSession, password: string, serverData: string): Promise<void>;
  finalizeSession(session: PgSaslSession, serverData: string): void;
};

// RFC 7677 section 3 (user "user", password "pencil").
const RFC = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNoncePart: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

// Verifiers PostgreSQL 15 stored for these passwords (SET password_encryption = 'scram-sha-256').
const PG_VERIFIERS: Array<[string, string]> = [
  [
    'pencil ünï',
    'SCRAM-SHA-256$4096:WatXCYPpqMQo7VjL/cBk1w==$npsemzjdyRRNtYW8QVvYdq9gguf/0dwdJcTvkKTqKAA=:YG9irvGYM671jL2CftkY57ETV38pyVejvTUdr0WjuWY=',
  ],
  // Non-ASCII space, a ligature and a soft hyphen: SASLprep maps them ("a fib").
  [
    'a\u00a0\ufb01\u00adb',
    'SCRAM-SHA-256$4096:F8UkAEpYGkCGYJBbusr6VQ==$nIAc+Ur4wkdIoo0oeUBn/jBwb0CltC3KOGa1VqPXA+M=:K9pwgcG3ryU3ikkKbED5Yn5UK7q7U8MA8zfVEstvyEE=',
  ],
  // A private-use character is prohibited: PostgreSQL falls back to the raw password.
  [
    'x\ue000y',
    'SCRAM-SHA-256$4096:2SWRtjSwAxAr9+zjQbCS/A==$9MVriZegIgbp4qx8URP8kZI6Fpm3fDj5ElezyZ4KqxU=:kO7H7gHIsjKv382Xmxo7RJWbtiF1GTtmDO0SG918a34=',
  ],
];

function violation(fn: () => unknown): void {
  expect(fn).toThrow(ShardgateError);
  try {
    fn();
  } catch (err) {
    expect((err as ShardgateError).code).toBe('PROTOCOL_VIOLATION');
  }
}

describe('SCRAM-SHA-256 against RFC 7677 test vectors', () => {
  it('server side', () => {
    const secret = scramSecretFromPassword('pencil', 4096, Buffer.from(RFC.salt, 'base64'));
    const server = new ScramServer(secret, { nonce: RFC.serverNoncePart });
    expect(server.handleClientFirst(RFC.clientFirst)).toBe(RFC.serverFirst);
    expect(server.handleClientFinal(RFC.clientFinal)).toBe(RFC.serverFinal);
  });
  it('server side from a clear-text password and from a verifier string', () => {
    const verifier = makeScramVerifier('pencil', 4096, Buffer.from(RFC.salt, 'base64'));
    const server = new ScramServer(verifier, { nonce: RFC.serverNoncePart });
    expect(server.start(RFC.clientFirst)).toBe(RFC.serverFirst);
    expect(server.finish(RFC.clientFinal)).toBe(RFC.serverFinal);
  });
  it('client side', () => {
    const client = new ScramClient('pencil', { nonce: RFC.clientNonce, user: 'user' });
    expect(client.clientFirst()).toBe(RFC.clientFirst);
    expect(client.clientFinal(RFC.serverFirst)).toBe(RFC.clientFinal);
    client.verifyServerFinal(RFC.serverFinal);
    violation(() => client.verifyServerFinal('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='));
    violation(() => client.verifyServerFinal('e=invalid-proof'));
  });
});

describe('SCRAM verifiers', () => {
  it('derives exactly what PostgreSQL stores, SASLprep included', () => {
    for (const [password, verifier] of PG_VERIFIERS) {
      const parsed = parseScramVerifier(verifier)!;
      expect(formatScramVerifier(scramSecretFromPassword(password, parsed.iterations, parsed.salt))).toBe(
        verifier,
      );
    }
  });
  it('parses and formats the pg_authid form', () => {
    const v = makeScramVerifier('secret');
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(formatScramVerifier(parseScramVerifier(v)!)).toBe(v);
    expect(parseScramVerifier('secret')).toBeNull();
    expect(parseScramVerifier('SCRAM-SHA-256$4096:abc=$AAAA:AAAA')).toBeNull();
  });
  it('saslprep leaves ASCII alone', () => {
    expect(saslprep('pa ss\tword\x01')).toBe('pa ss\tword\x01');
    expect(saslprep('\u2168')).toBe('IX');
  });
});

/** Runs the pg driver's SCRAM client against our server. */
async function pgClientAgainst(
  server: ScramServer,
  password: string,
): Promise<{ ok: boolean; verified: boolean }> {
  const session = pgSasl.startSession(['SCRAM-SHA-256']);
  const serverFirst = server.handleClientFirst(session.response);
  await pgSasl.continueSession(session, password, serverFirst);
  const serverFinal = server.handleClientFinal(session.response);
  if (serverFinal === null) return { ok: false, verified: false };
  pgSasl.finalizeSession(session, serverFinal);
  return { ok: true, verified: true };
}

describe('SCRAM: full exchanges', () => {
  it('the pg driver authenticates against our server (clear text and verifier)', async () => {
    expect(await pgClientAgainst(new ScramServer('s3cret'), 's3cret')).toEqual({ ok: true, verified: true });
    for (const [password, verifier] of PG_VERIFIERS) {
      expect(await pgClientAgainst(new ScramServer(verifier), password)).toEqual({
        ok: true,
        verified: true,
      });
    }
  });
  it('the pg driver with a wrong password is refused', async () => {
    expect(await pgClientAgainst(new ScramServer('s3cret'), 'wrong')).toEqual({ ok: false, verified: false });
  });
  it('our client against our server', () => {
    for (const secret of ['pw', makeScramVerifier('pw', 1000)]) {
      const server = new ScramServer(secret);
      const client = new ScramClient('pw');
      const serverFinal = server.handleClientFinal(
        client.clientFinal(server.handleClientFirst(client.clientFirst())),
      );
      expect(serverFinal).not.toBeNull();
      client.verifyServerFinal(serverFinal!);
    }
    const server = new ScramServer('pw');
    const client = new ScramClient('nope');
    expect(
      server.handleClientFinal(client.clientFinal(server.handleClientFirst(client.clientFirst()))),
    ).toBeNull();
  });
  it('mock secrets (unknown users) and empty passwords never authenticate; mock salts are stable', () => {
    for (const secret of [mockScramSecret('ghost'), '']) {
      const server = new ScramServer(secret);
      const client = new ScramClient('');
      expect(
        server.handleClientFinal(client.clientFinal(server.handleClientFirst(client.clientFirst()))),
      ).toBeNull();
    }
    expect(mockScramSecret('ghost').salt).toEqual(mockScramSecret('ghost').salt);
    expect(mockScramSecret('ghost').salt).not.toEqual(mockScramSecret('other').salt);
  });
});

describe('SCRAM: malformed messages', () => {
  const first = 'n,,n=*,r=abcdef';
  it('client-first', () => {
    for (const bad of [
      '',
      'n',
      'n,',
      'x,,n=*,r=a',
      'p=tls-server-end-point,,n=*,r=a',
      'n,a=bob,n=*,r=a',
      'n,,m=x,n=*,r=a',
      'n,,r=a',
      'n,,n=*',
      'n,,n=*,r=',
      'n,,garbage',
    ]) {
      violation(() => new ScramServer('pw').handleClientFirst(bad));
    }
  });
  it('client-final', () => {
    const cases = [
      '',
      'c=biws',
      'c=biws,r=x,p=AAAA',
      'c=eSws,r=abcdefNONCE,p=AAAA',
      'r=abcdefNONCE,p=AAAA',
      'c=biws,r=abcdefNONCE,p=!!!!',
    ];
    for (const bad of cases) {
      const server = new ScramServer('pw', { nonce: 'NONCE' });
      server.handleClientFirst(first);
      violation(() => server.handleClientFinal(bad));
    }
    const server = new ScramServer('pw', { nonce: 'NONCE' });
    violation(() => server.handleClientFinal('c=biws,r=abcdefNONCE,p=AAAA'));
  });
  it('server-first seen by the client', () => {
    for (const bad of [
      '',
      'r=other,s=c2FsdA==,i=4096',
      'r=NONCE,s=c2FsdA==,i=4096',
      'r=NONCEx,s=***,i=4096',
      'r=NONCEx,s=c2FsdA==,i=0',
      'r=NONCEx,s=c2FsdA==,i=1000000',
    ]) {
      violation(() => new ScramClient('pw', { nonce: 'NONCE' }).clientFinal(bad));
    }
  });
});

describe('md5', () => {
  // Computed independently (Python hashlib): md5("secret" + "postgres"), then with salt 01020304.
  const stored = 'md553f48b7c4b76a86ce72276c5755f217d';
  const response = 'md5bb41a296aab6baccb36ff243a562abff';
  const salt = Buffer.from([1, 2, 3, 4]);
  it('hashes like PostgreSQL', () => {
    expect(md5PasswordHash('postgres', 'secret')).toBe(stored);
    expect(isMd5Hash(stored)).toBe(true);
    expect(isMd5Hash('secret')).toBe(false);
  });
  it('client response from clear text or the stored hash', () => {
    expect(md5ClientResponse('postgres', 'secret', salt)).toBe(response);
    expect(md5ClientResponse('postgres', stored, salt)).toBe(response);
  });
  it('server verification', () => {
    expect(md5Verify('postgres', 'secret', salt, response)).toBe(true);
    expect(md5Verify('postgres', stored, salt, response)).toBe(true);
    expect(md5Verify('postgres', 'secret', Buffer.from([1, 2, 3, 5]), response)).toBe(false);
    expect(md5Verify('other', 'secret', salt, response)).toBe(false);
    expect(md5Verify('postgres', 'secret', salt, 'md5short')).toBe(false);
    expect(md5Verify('postgres', makeScramVerifier('secret', 1000), salt, response)).toBe(false);
    expect(md5Verify('postgres', '', salt, md5ClientResponse('postgres', '', salt))).toBe(false);
  });
});
