// The arithmetic of MySQL's two password plugins, both directions:
//   mysql_native_password   token = SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw)))
//   caching_sha2_password   token = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble)
// and the full-authentication step of caching_sha2_password: the clear password, sent over TLS,
// or XOR-ed with the scramble and RSA-OAEP encrypted with the server's public key.
import {
  constants,
  createHash,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

function sha1(...parts: Buffer[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i % b.length]!;
  return out;
}

/** 20 printable bytes (no NUL, which ends the scramble in some clients' parsers). */
export function makeScramble(): Buffer {
  const raw = randomBytes(20);
  for (let i = 0; i < raw.length; i++) raw[i] = 0x21 + (raw[i]! % 94);
  return raw;
}

export function nativeToken(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  return xor(stage1, sha1(scramble.subarray(0, 20), sha1(stage1)));
}

/** SHA1(SHA1(password)): what a server keeps to check native tokens. */
export function nativeVerifier(password: string): Buffer {
  return sha1(sha1(Buffer.from(password, 'utf8')));
}

export function nativeVerify(token: Buffer, scramble: Buffer, verifier: Buffer): boolean {
  if (token.length !== 20) return false;
  const stage1 = xor(token, sha1(scramble.subarray(0, 20), verifier));
  return timingSafeEqual(sha1(stage1), verifier);
}

export function sha2Token(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, 'utf8'));
  return xor(stage1, sha256(sha256(stage1), scramble.subarray(0, 20)));
}

/** SHA256(SHA256(password)): the fast-auth cache entry of caching_sha2_password. */
export function sha2Verifier(password: string): Buffer {
  return sha256(sha256(Buffer.from(password, 'utf8')));
}

export function sha2Verify(token: Buffer, scramble: Buffer, verifier: Buffer): boolean {
  if (token.length !== 32) return false;
  const stage1 = xor(token, sha256(verifier, scramble.subarray(0, 20)));
  return timingSafeEqual(sha256(stage1), verifier);
}

/** Client side of full authentication without TLS: RSA-OAEP(password\0 XOR scramble). */
export function rsaEncryptPassword(
  password: string,
  scramble: Buffer,
  publicKeyPem: string | Buffer,
): Buffer {
  const plain = xor(Buffer.from(`${password}\0`, 'utf8'), scramble.subarray(0, 20));
  return publicEncrypt(
    { key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    plain,
  );
}

/** Server side: the clear password from an RSA-encrypted full-auth response, or null. */
export function rsaDecryptPassword(
  encrypted: Buffer,
  scramble: Buffer,
  privateKeyPem: string,
): string | null {
  try {
    const plain = privateDecrypt(
      { key: privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      encrypted,
    );
    const clear = xor(plain, scramble.subarray(0, 20));
    const nul = clear.indexOf(0);
    return clear.toString('utf8', 0, nul < 0 ? clear.length : nul);
  } catch {
    return null;
  }
}

/** A clear-text password sent over TLS ends with a NUL. */
export function clearPassword(response: Buffer): string {
  const nul = response.indexOf(0);
  return response.toString('utf8', 0, nul < 0 ? response.length : nul);
}
