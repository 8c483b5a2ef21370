// The authentication method an unknown user name is asked for, on both front ends. When every
// password user shares one method, that one. In a mixed config (md5 and SCRAM users, or
// mysql_native_password and caching_sha2_password users) known users keep their own method, and
// each unknown name gets one of the config's methods, chosen by a keyed hash of the name in the
// proportions of the config's users: stable per name (asking twice tells nothing), unpredictable
// without the key (a name's method cannot be computed to compare), so the method a name is asked
// for does not tell whether it exists.
import { createHmac, randomBytes } from 'node:crypto';

/** Kept for the process lifetime: a name's method stays the same until a restart. */
const key = randomBytes(32);

/**
 * `methodsOfUsers`: the method of every configured password user (one entry per user);
 * `fallback`: the method when there is none.
 */
export function methodForUnknownUser<M extends string>(
  name: string,
  methodsOfUsers: readonly M[],
  fallback: M,
): M {
  if (methodsOfUsers.length === 0) return fallback;
  const first = methodsOfUsers[0]!;
  if (methodsOfUsers.every((m) => m === first)) return first;
  const pick = createHmac('sha256', key).update(name, 'utf8').digest().readUInt32BE(0);
  return methodsOfUsers[pick % methodsOfUsers.length]!;
}
