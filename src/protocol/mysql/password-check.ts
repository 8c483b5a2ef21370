// Passwords of config users as the MySQL plugins need them. A config password is clear text, a
// SCRAM verifier ("SCRAM-SHA-256$...") or an md5 hash ("md5..."). mysql_native_password needs
// SHA1(SHA1(password)), so only clear text works for it. caching_sha2_password's full
// authentication receives the clear password (over TLS or RSA-encrypted) and checks it against
// any of the three forms; its fast authentication uses SHA256(SHA256(password)) from a cache
// filled by a successful full authentication, as MySQL's server does.
import { generateKeyPair, timingSafeEqual } from 'node:crypto';
import { isMd5Hash, md5PasswordHash } from '../../auth/md5.js';
import {
  parseScramVerifier,
  SCRAM_DEFAULT_ITERATIONS,
  scramSecretFor,
  scramSecretFromPassword,
} from '../../auth/scram.js';
import type { UserConfig } from '../../config/schema.js';
import { nativeVerifier, sha2Verifier } from './auth-crypto.js';

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether `clear` is the password a config entry stores, in whichever form it is stored. Every
 * form costs one SCRAM key derivation, as an unknown user's check does (dummyPasswordCheck): a
 * clear-text password is compared through its SCRAM secret (derived once, when the config
 * loads), so the time of a full authentication does not tell known users from unknown ones.
 */
export function clearPasswordMatches(user: UserConfig, clear: string): boolean {
  const stored = user.password;
  const verifier = parseScramVerifier(stored);
  if (verifier) {
    const derived = scramSecretFromPassword(clear, verifier.iterations, verifier.salt);
    return timingSafeEqual(derived.storedKey, verifier.storedKey);
  }
  if (isMd5Hash(stored) || stored === '') {
    dummyPasswordCheck(clear);
    // A user without a password never logs in with one (`auth: trust` is the way).
    return stored !== '' && sameText(md5PasswordHash(user.name, clear), stored);
  }
  const secret = scramSecretFor(stored);
  const derived = scramSecretFromPassword(clear, secret.iterations, secret.salt);
  // The derivation is the cost; the exact text decides (SASLprep would equate some texts).
  return timingSafeEqual(derived.storedKey, secret.storedKey) && sameText(stored, clear);
}

/** SHA1(SHA1(password)) for mysql_native_password, or null when config does not hold clear text. */
export function nativeVerifierFor(user: UserConfig): Buffer | null {
  if (parseScramVerifier(user.password) || isMd5Hash(user.password)) return null;
  return nativeVerifier(user.password);
}

const DUMMY_SALT = Buffer.alloc(16, 7);

/** The work of checking a clear password against a SCRAM verifier, for a user that does not exist. */
export function dummyPasswordCheck(clear: string): void {
  scramSecretFromPassword(clear, SCRAM_DEFAULT_ITERATIONS, DUMMY_SALT);
}

interface CacheEntry {
  /** The config password the entry was learned against (a config change invalidates it). */
  stored: string;
  verifier: Buffer;
}

/** caching_sha2_password's server-side state: the fast-auth cache and the RSA key pair. */
export class Sha2AuthState {
  private readonly cache = new Map<string, CacheEntry>();
  private keys: Promise<{ publicKey: string; privateKey: string }> | null = null;

  /**
   * A state whose RSA key pair is being generated from now: the first full login does not wait
   * for it (a 2048-bit pair took seconds on a loaded machine, past the login deadline).
   */
  static warmed(): Sha2AuthState {
    const state = new Sha2AuthState();
    state.rsaKeys().catch(() => undefined);
    return state;
  }

  fastVerifier(user: UserConfig): Buffer | null {
    const e = this.cache.get(user.name);
    if (!e || e.stored !== user.password) return null;
    return e.verifier;
  }

  remember(user: UserConfig, clear: string): void {
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(user.name, { stored: user.password, verifier: sha2Verifier(clear) });
  }

  forget(user: string): void {
    this.cache.delete(user);
  }

  /** The RSA key pair for full authentication without TLS (generated once, off the event loop). */
  rsaKeys(): Promise<{ publicKey: string; privateKey: string }> {
    this.keys ??= new Promise((resolve, reject) => {
      generateKeyPair(
        'rsa',
        {
          modulusLength: 2048,
          publicKeyEncoding: { type: 'spki', format: 'pem' },
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        },
        (err, publicKey, privateKey) => (err ? reject(err) : resolve({ publicKey, privateKey })),
      );
    });
    return this.keys;
  }
}
