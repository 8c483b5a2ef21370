// The MySQL port's clear-password check (caching_sha2_password full authentication) costs the same
// for a known user, whatever form its password has in config, as for an unknown user: the time
// of a failed login does not tell names apart. Timed as ratios of medians within one run.
import { describe, expect, it } from 'vitest';
import { md5PasswordHash } from '../../src/auth/md5.js';
import { makeScramVerifier, scramSecretFor } from '../../src/auth/scram.js';
import { userSchema } from '../../src/config/schema.js';
import { clearPasswordMatches, dummyPasswordCheck } from '../../src/protocol/mysql/password-check.js';

const clearUser = userSchema.parse({ name: 'clear', password: 'pw-clear' });
const hashedUser = userSchema.parse({ name: 'hashed', password: makeScramVerifier('pw-hashed') });
const md5User = userSchema.parse({ name: 'old', password: md5PasswordHash('old', 'pw-md5'), auth: 'md5' });
const noPassword = userSchema.parse({ name: 'nopw', password: '' });

function median(f: () => void, runs = 15): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    f();
    times.push(Number(process.hrtime.bigint() - t));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)]!;
}

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

  it('costs about the same for known users (any stored form) as for an unknown user', () => {
    scramSecretFor(clearUser.password); // derived when the config loads
    const unknown = median(() => dummyPasswordCheck('wrong'));
    for (const user of [clearUser, hashedUser, md5User]) {
      const known = median(() => clearPasswordMatches(user, 'wrong'));
      const ratio = known / unknown;
      expect(ratio, user.name).toBeGreaterThan(0.33);
      expect(ratio, user.name).toBeLessThan(3);
    }
  });
});
