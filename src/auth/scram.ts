// SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL speaks it: no channel binding (gs2 header
// "n,," or "y,,"), the user name in client-first is ignored (PostgreSQL sends "n=*"), 4096
// iterations by default. Both sides: ScramServer authenticates clients of shardgate from a
// clear-text password or a pg_authid verifier; ScramClient authenticates shardgate to a server.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ShardgateError } from '../errors.js';
import { saslprep } from './saslprep.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
export const SCRAM_DEFAULT_ITERATIONS = 4096;
const NONCE_BYTES = 18;

/** The stored form of a SCRAM password (what pg_authid holds). */
export interface ScramSecret {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/**
 * What a client's SCRAM proof reveals to a server holding its verifier: the ClientKey, with the
 * verifier's ServerKey, salt and iterations. Enough to log in to another server holding the same
 * verifier (PgBouncer's SCRAM pass-through), never the password itself.
 */
export interface ScramKeys {
  clientKey: Buffer;
  serverKey: Buffer;
  salt: Buffer;
  iterations: number;
}

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(saslprep(password), 'utf8'), salt, iterations, 32, 'sha256');
}

/** Derives the stored secret from a password (a random 16-byte salt unless given). */
export function scramSecretFromPassword(
  password: string,
  iterations = SCRAM_DEFAULT_ITERATIONS,
  salt: Buffer = randomBytes(16),
): ScramSecret {
  const salted = saltedPassword(password, salt, iterations);
  return {
    iterations,
    salt,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (the pg_authid format). */
export function makeScramVerifier(
  password: string,
  iterations = SCRAM_DEFAULT_ITERATIONS,
  salt?: Buffer,
): string {
  return formatScramVerifier(scramSecretFromPassword(password, iterations, salt));
}

export function formatScramVerifier(s: ScramSecret): string {
  return `${SCRAM_MECHANISM}$${s.iterations}:${s.salt.toString('base64')}$${s.storedKey.toString('base64')}:${s.serverKey.toString('base64')}`;
}

const VERIFIER =
  /^SCRAM-SHA-256\$([1-9][0-9]{0,9}):([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2}):([A-Za-z0-9+/]+={0,2})$/;

export function isScramVerifier(secret: string): boolean {
  return parseScramVerifier(secret) !== null;
}

/** Parses a pg_authid SCRAM verifier; null if the string is not one. */
export function parseScramVerifier(secret: string): ScramSecret | null {
  const m = VERIFIER.exec(secret);
  if (!m) return null;
  const storedKey = Buffer.from(m[3]!, 'base64');
  const serverKey = Buffer.from(m[4]!, 'base64');
  if (storedKey.length !== 32 || serverKey.length !== 32) return null;
  return { iterations: Number(m[1]), salt: Buffer.from(m[2]!, 'base64'), storedKey, serverKey };
}

// Deriving a secret costs a PBKDF2 run: clear-text passwords from config are derived once
// (random salt, kept for the process lifetime) rather than on every connection.
const derived = new Map<string, ScramSecret>();
const DERIVED_MAX = 1024;

/** The secret for a config password: a parsed verifier, or a cached derivation of clear text. */
export function scramSecretFor(password: string): ScramSecret {
  const parsed = parseScramVerifier(password);
  if (parsed) return parsed;
  let s = derived.get(password);
  if (!s) {
    s = scramSecretFromPassword(password);
    if (derived.size >= DERIVED_MAX) derived.delete(derived.keys().next().value as string);
    derived.set(password, s);
  }
  return s;
}

const mockKey = randomBytes(32);

/**
 * A secret for a user that does not exist: a salt that is stable per user name (as PostgreSQL's
 * mock authentication does) so that repeated attempts cannot tell unknown from known users, and
 * keys no password matches. Costs no PBKDF2.
 */
export function mockScramSecret(user: string): ScramSecret {
  return {
    iterations: SCRAM_DEFAULT_ITERATIONS,
    salt: hmac(mockKey, `salt:${user}`).subarray(0, 16),
    storedKey: randomBytes(32),
    serverKey: randomBytes(32),
  };
}

function scramError(problem: string): ShardgateError {
  return new ShardgateError('PROTOCOL_VIOLATION', { detail: `malformed SCRAM message: ${problem}` });
}

/** Splits "a=1,b=2" into attributes, keeping order; values may contain '='. */
function attributes(text: string, what: string): Array<[string, string]> {
  return text.split(',').map((part) => {
    if (part.length < 2 || part[1] !== '=' || !/^[A-Za-z]$/.test(part[0]!)) {
      throw scramError(`${what}: invalid attribute "${part.slice(0, 20)}"`);
    }
    return [part[0]!, part.slice(2)];
  });
}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// ------------------------------------------------------------------------------------ server ---

export interface ScramServerOptions {
  /** Server nonce part (tests only; default 18 random bytes, base64). */
  nonce?: string;
}

/**
 * One server-side exchange: handleClientFirst(clientFirst) -> serverFirst, then
 * handleClientFinal(clientFinal) -> serverFinal, or null when the proof is wrong. Malformed
 * messages throw ShardgateError PROTOCOL_VIOLATION.
 */
export class ScramServer {
  private readonly secret: ScramSecret;
  private readonly serverNonce: string;
  private state: 'first' | 'final' | 'done' = 'first';
  private gs2Header = '';
  private nonce = '';
  private clientFirstBare = '';
  private serverFirst = '';
  /** After a matching proof: the client's keys (see ScramKeys). */
  provenKeys: ScramKeys | null = null;

  /** secret: a clear-text password, a "SCRAM-SHA-256$..." verifier, or a ScramSecret. */
  constructor(secret: string | ScramSecret, options: ScramServerOptions = {}) {
    // An empty password never authenticates (PostgreSQL refuses them too): keys nothing matches.
    if (secret === '') this.secret = { ...mockScramSecret(''), salt: randomBytes(16) };
    else this.secret = typeof secret === 'string' ? scramSecretFor(secret) : secret;
    this.serverNonce = options.nonce ?? randomBytes(NONCE_BYTES).toString('base64');
  }

  handleClientFirst(clientFirst: string): string {
    if (this.state !== 'first') throw scramError('unexpected client-first message');
    // gs2-header: cbind-flag "," [authzid] ","
    const c1 = clientFirst.indexOf(',');
    const c2 = c1 < 0 ? -1 : clientFirst.indexOf(',', c1 + 1);
    if (c2 < 0) throw scramError('client-first has no gs2 header');
    const flag = clientFirst.slice(0, c1);
    if (flag.startsWith('p=')) throw scramError('channel binding was not offered (SCRAM-SHA-256-PLUS)');
    if (flag !== 'n' && flag !== 'y') throw scramError(`invalid channel binding flag "${flag.slice(0, 10)}"`);
    if (c2 !== c1 + 1) throw scramError('authorization identity is not supported');
    this.gs2Header = clientFirst.slice(0, c2 + 1);
    this.clientFirstBare = clientFirst.slice(c2 + 1);
    const attrs = attributes(this.clientFirstBare, 'client-first');
    if (attrs[0]?.[0] === 'm') throw scramError('extensions are not supported');
    // PostgreSQL ignores the user name here (it comes from the startup packet).
    if (attrs[0]?.[0] !== 'n') throw scramError('client-first has no user name');
    const r = attrs[1];
    if (r?.[0] !== 'r' || !PRINTABLE_NONCE.test(r[1])) throw scramError('client-first has no valid nonce');
    this.nonce = r[1] + this.serverNonce;
    const s = this.secret;
    this.serverFirst = `r=${this.nonce},s=${s.salt.toString('base64')},i=${s.iterations}`;
    this.state = 'final';
    return this.serverFirst;
  }

  /** Returns server-final ("v=...") when the proof matches, null when it does not. */
  handleClientFinal(clientFinal: string): string | null {
    if (this.state !== 'final') throw scramError('unexpected client-final message');
    this.state = 'done';
    const p = clientFinal.lastIndexOf(',p=');
    if (p < 0) throw scramError('client-final has no proof');
    const withoutProof = clientFinal.slice(0, p);
    const proofText = clientFinal.slice(p + 3);
    const attrs = attributes(withoutProof, 'client-final');
    const c = attrs[0];
    if (c?.[0] !== 'c' || !BASE64.test(c[1])) throw scramError('client-final has no channel binding');
    if (Buffer.from(c[1], 'base64').toString('latin1') !== this.gs2Header) {
      throw scramError('channel binding does not match the gs2 header');
    }
    const r = attrs[1];
    if (r?.[0] !== 'r') throw scramError('client-final has no nonce');
    if (r[1] !== this.nonce) throw scramError('nonce mismatch');
    if (!BASE64.test(proofText)) throw scramError('proof is not base64');
    const proof = Buffer.from(proofText, 'base64');
    if (proof.length !== 32) throw scramError('proof has the wrong length');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const s = this.secret;
    const clientSignature = hmac(s.storedKey, authMessage);
    const clientKey = Buffer.allocUnsafe(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(sha256(clientKey), s.storedKey)) return null;
    this.provenKeys = { clientKey, serverKey: s.serverKey, salt: s.salt, iterations: s.iterations };
    return `v=${hmac(s.serverKey, authMessage).toString('base64')}`;
  }

  /** Aliases in the start/finish vocabulary. */
  start(clientFirst: string): string {
    return this.handleClientFirst(clientFirst);
  }

  finish(clientFinal: string): string | null {
    return this.handleClientFinal(clientFinal);
  }
}

// ------------------------------------------------------------------------------------ client ---

export interface ScramClientOptions {
  /** Client nonce (tests only; default 18 random bytes, base64). */
  nonce?: string;
  /** User name sent in client-first (default "*": PostgreSQL takes it from the startup packet). */
  user?: string;
  /** Refuse servers asking for more PBKDF2 iterations than this (default 100000, 0 = no limit). */
  maxIterations?: number;
}

/** The proxy's side when a server asks for SCRAM-SHA-256. Failures throw ShardgateError. */
export class ScramClient {
  private readonly clientNonce: string;
  private readonly maxIterations: number;
  private readonly user: string;
  private expectedServerSignature: Buffer | null = null;

  /** password: clear text, or the keys a client proved (the server must hold the same verifier). */
  constructor(
    private readonly password: string | ScramKeys,
    options: ScramClientOptions = {},
  ) {
    this.clientNonce = options.nonce ?? randomBytes(NONCE_BYTES).toString('base64');
    this.maxIterations = options.maxIterations ?? 100_000;
    // RFC 5802 saslname: ',' and '=' are escaped.
    this.user = (options.user ?? '*').replaceAll('=', '=3D').replaceAll(',', '=2C');
  }

  private get clientFirstBare(): string {
    return `n=${this.user},r=${this.clientNonce}`;
  }

  /** The SASLInitialResponse data. */
  clientFirst(): string {
    return `n,,${this.clientFirstBare}`;
  }

  /** From the server's SASLContinue data, the SASLResponse data. */
  clientFinal(serverFirst: string): string {
    const attrs = new Map(attributes(serverFirst, 'server-first'));
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterText = attrs.get('i');
    if (!nonce || !PRINTABLE_NONCE.test(nonce)) throw scramError('server-first has no valid nonce');
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw scramError('server nonce does not extend the client nonce');
    }
    if (!salt || !BASE64.test(salt)) throw scramError('server-first has no valid salt');
    if (!iterText || !/^[1-9][0-9]{0,9}$/.test(iterText))
      throw scramError('server-first has no valid iteration count');
    const iterations = Number(iterText);
    if (this.maxIterations > 0 && iterations > this.maxIterations) {
      throw scramError(`iteration count ${iterations} exceeds ${this.maxIterations}`);
    }
    const saltBytes = Buffer.from(salt, 'base64');
    const { clientKey, serverKey } = this.keysFor(saltBytes, iterations);
    const storedKey = sha256(clientKey);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    for (let i = 0; i < 32; i++) clientKey[i] = clientKey[i]! ^ clientSignature[i]!;
    this.expectedServerSignature = hmac(serverKey, authMessage);
    return `${withoutProof},p=${clientKey.toString('base64')}`;
  }

  private keysFor(salt: Buffer, iterations: number): { clientKey: Buffer; serverKey: Buffer } {
    if (typeof this.password === 'string') {
      const salted = saltedPassword(this.password, salt, iterations);
      return { clientKey: hmac(salted, 'Client Key'), serverKey: hmac(salted, 'Server Key') };
    }
    const keys = this.password;
    if (!keys.salt.equals(salt) || keys.iterations !== iterations) {
      throw new ShardgateError('PROTOCOL_VIOLATION', {
        detail:
          "the server's SCRAM verifier for this role is not the one the client logged in with; give the user a clear-text password or users[].backend.password",
      });
    }
    return { clientKey: Buffer.from(keys.clientKey), serverKey: keys.serverKey };
  }

  /** Checks the server's SASLFinal data; throws unless the server proved it knows the password. */
  verifyServerFinal(serverFinal: string): void {
    if (!this.expectedServerSignature) throw scramError('server-final before server-first');
    const attrs = new Map(attributes(serverFinal, 'server-final'));
    const error = attrs.get('e');
    if (error !== undefined) throw scramError(`server reported error "${error}"`);
    const v = attrs.get('v');
    if (!v || !BASE64.test(v)) throw scramError('server-final has no signature');
    const got = Buffer.from(v, 'base64');
    if (got.length !== 32 || !timingSafeEqual(got, this.expectedServerSignature)) {
      throw new ShardgateError('PROTOCOL_VIOLATION', { detail: 'the server SCRAM signature does not match' });
    }
  }
}
