// PostgreSQL md5 authentication. Stored hash: "md5" + md5hex(password + user). Wire response:
// "md5" + md5hex(md5hex(password + user) + salt), salt being 4 random bytes from the server.
import { createHash, timingSafeEqual } from 'node:crypto';

const MD5_HASH = /^md5[0-9a-f]{32}$/;

function md5hex(...parts: Array<string | Buffer>): string {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** True when a config secret is a stored md5 hash rather than a clear-text password. */
export function isMd5Hash(secret: string): boolean {
  return MD5_HASH.test(secret);
}

/** The pg_authid form: "md5" + md5hex(password + user). */
export function md5PasswordHash(user: string, password: string): string {
  return `md5${md5hex(password, user)}`;
}

/** What a client sends for a salt: from the clear-text password (or an already stored md5 hash). */
export function md5ClientResponse(user: string, password: string, salt: Buffer): string {
  const stored = isMd5Hash(password) ? password : md5PasswordHash(user, password);
  return `md5${md5hex(stored.slice(3), salt)}`;
}

/**
 * Server side: does a PasswordMessage answer the challenge? secret is the clear-text password or
 * the stored "md5..." hash. A SCRAM verifier cannot answer md5: false. Constant-time comparison.
 */
export function md5Verify(user: string, secret: string, salt: Buffer, response: string): boolean {
  // Empty passwords never authenticate (PostgreSQL refuses them too).
  if (secret === '' || secret.startsWith('SCRAM-SHA-256$')) return false;
  const expected = Buffer.from(md5ClientResponse(user, secret, salt), 'latin1');
  const got = Buffer.from(response, 'latin1');
  if (got.length !== expected.length) return false;
  return timingSafeEqual(got, expected);
}
