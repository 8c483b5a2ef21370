// The MySQL port's clear-password check (caching_sha2_password full authentication) costs the same
// for a known user, whatever form its password has in config, as for an unknown user: the time
// of a failed login does not tell names apart. The cost is the key derivation, so the test counts
// the PBKDF2 work each path does instead of timing it (a timing assertion fails on a loaded machine).
import { describe, expect, it, vi } from 'vitest';

const derivations: number[] = [];
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return {
    ...crypto,
    pbkdf2Sync: (...args: Parameters<typeof crypto.pbkdf2Sync>) => {
      derivations.push(args[2]);
      return crypto.pbkdf2Sync(...args);
    },
  };
});

import { md5PasswordHash } from '../../src/auth/md5.js';
import { makeScramVerifier, SCRAM_DEFAULT_ITERATIONS, scramSecretFor } from '../../src/auth/scram.js';
import { userSchema } from '../../src/config/schema.js';
import { clearPasswordMatches, dummyPasswordCheck } from '../../src/protocol/mysql/password-check.js';

/** The PBKDF2 iteration counts one call of `f` ran. */
function derivationsOf(f: () => void): number[] {
  derivations.length = 0;
  f();
  return [...derivations];
}

const clearUser = userSchema.parse({ name: 'clear', password: 'pw-clear' });
const hashedUser = userSchema.parse({ name: 'hashed', password: makeScramVerifier('pw-hashed') });
const md5User = userSchema.parse({ name: 'old', password: md5PasswordHash('old', 'pw-md5'), auth: 'md5' });
const noPassword = userSchema.parse({ name: 'nopw', password: '' });

describe('MySQL clear-password check', () => {
  it('accepts the right password in every stored form and refuses a wrong one', () => {
    expect(clearPasswordMatches(clearUser, 'pw-clear')).toBe(true);
    expect(clearPasswordMatches(clearUser, 'pw-clearx')).toBe(false);
    expect(clearPasswordMatches(hashedUser, 'pw-hashed')).toBe(true);
    expect(clearPasswordMatches(hashedUser, 'wrong')).toBe(false);
    expect(clearPasswordMatches(md5User, 'pw-md5')).toBe(true);
    expect(clearPasswordMatches(md5User, 'wrong')).toBe(false);
  });

  it('a user configured without a password never matches, not even an empty one', () => {
    expect(clearPasswordMatches(noPassword, '')).toBe(false);
    expect(clearPasswordMatches(noPassword, 'x')).toBe(false);
  });

  it('does the same key-derivation work for known users (any stored form) as for an unknown user', () => {
    scramSecretFor(clearUser.password); // derived when the config loads
    const unknown = derivationsOf(() => dummyPasswordCheck('wrong'));
    expect(unknown).toEqual([SCRAM_DEFAULT_ITERATIONS]);
    for (const user of [clearUser, hashedUser, md5User, noPassword]) {
      expect(
        derivationsOf(() => clearPasswordMatches(user, 'wrong')),
        user.name,
      ).toEqual(unknown);
      expect(
        derivationsOf(() => clearPasswordMatches(user, 'pw-clear')),
        user.name,
      ).toEqual(unknown);
    }
  });
});
