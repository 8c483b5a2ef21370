// Client authentication against the users in config: SCRAM-SHA-256 (default), md5 or trust.
// An unknown user goes through the same exchange as a known one (a method of the config's users,
// see unknown-user-method.ts; a salt stable per name; the same hashing work) and fails with the
// same message, and the database is checked only after the password, so user names cannot be
// probed. Clear-text config passwords are derived to SCRAM secrets when the config is loaded
// (prepareScramSecrets), so no login, known or unknown, runs PBKDF2.

import { randomBytes } from 'node:crypto';
import { isMd5Hash, md5Verify } from '../../auth/md5.js';
import { mockScramSecret, ScramServer, scramSecretFor } from '../../auth/scram.js';
import { backendIdentity, databaseNames, type LoginProof } from '../../backend/identity.js';
import type { UserConfig } from '../../config/schema.js';
import { ShardgateError } from '../../errors.js';
import { methodForUnknownUser } from '../unknown-user-method.js';
import {
  encodeAuthenticationMD5Password,
  encodeAuthenticationOk,
  encodeAuthenticationSASL,
  encodeAuthenticationSASLContinue,
  encodeAuthenticationSASLFinal,
} from './backend-messages.js';
import type { PgClientSession } from './client-session.js';
import { decodePassword, decodeSASLInitialResponse, decodeSASLResponse } from './frontend-messages.js';
import type { SessionServices } from './services.js';

const PASSWORD_MESSAGE = 0x70; // 'p'

type Step = 'md5' | 'sasl-initial' | 'sasl-final' | 'done';

export class Authenticator {
  private step: Step = 'done';
  private salt = randomBytes(4);
  private scram: ScramServer | null = null;
  private known = false;
  /** The verifier auth_query returned for a user not in the config. */
  private lookedUpSecret: string | null = null;
  /** What the login proved, for logging in to the servers as the user (identity.ts). */
  private proof: LoginProof = {};

  constructor(
    private readonly session: PgClientSession,
    private readonly services: SessionServices,
    private readonly onAuthenticated: () => Promise<void>,
  ) {}

  start(): void {
    const state = this.session.state!;
    const config = this.services.config;
    const user = config.users.find((u) => u.name === state.user);
    this.known = user !== undefined;
    if (user === undefined && this.services.authQuery) {
      // Not in the config: the server's own verifier decides (auth_query), once it is known.
      this.services.authQuery.secretOf(state.user).then(
        (secret) => this.startWith(secret),
        (err: unknown) =>
          this.session.fail(
            new ShardgateError('BACKEND_UNAVAILABLE', {
              server: 'default shard primary (authQuery)',
              shard: 'default',
              detail: err instanceof Error ? err.message : String(err),
            }),
            true,
          ),
      );
      return;
    }
    const method = user?.auth ?? methodForUnknownUsers(config.users, state.user);
    if (method === 'trust') {
      this.finish();
      return;
    }
    this.challenge(method, user?.password ?? '');
  }

  /** auth_query's answer: a verifier picks the method; none runs the mock exchange. */
  private startWith(secret: string | null): void {
    if (this.session.closed) return;
    this.known = secret !== null;
    this.lookedUpSecret = secret;
    const method =
      secret !== null && isMd5Hash(secret)
        ? 'md5'
        : methodForUnknownUsers(this.services.config.users, this.session.state!.user);
    this.challenge(method, secret ?? '');
  }

  private challenge(method: 'md5' | 'scram-sha-256', password: string): void {
    if (method === 'md5') {
      this.step = 'md5';
      this.session.write(encodeAuthenticationMD5Password(this.salt));
      return;
    }
    // Unknown users (and users without a password, which never log in by password) get a mock
    // secret with a per-name salt: the exchange runs and fails like a wrong password.
    this.scram = new ScramServer(password !== '' ? password : mockScramSecret(this.session.state!.user));
    this.step = 'sasl-initial';
    this.session.write(encodeAuthenticationSASL(['SCRAM-SHA-256']));
  }

  /** The password the user logs in with: from the config, or looked up (auth_query). */
  private secretOf(user: UserConfig | undefined): string {
    return user?.password ?? this.lookedUpSecret ?? '';
  }

  onMessage(type: number, bytes: Buffer): void {
    if (type !== PASSWORD_MESSAGE) {
      throw new ShardgateError('PROTOCOL_VIOLATION', {
        detail: `expected a password message during authentication, got '${String.fromCharCode(type)}'`,
      });
    }
    const state = this.session.state!;
    const user = this.services.config.users.find((u) => u.name === state.user);
    switch (this.step) {
      case 'md5': {
        const response = decodePassword(bytes);
        // An unknown user's answer is checked against a dummy password: the same hashing work.
        const secret = this.known ? this.secretOf(user) : UNKNOWN_USER_PASSWORD;
        if (!md5Verify(state.user, secret, this.salt, response) || !this.known) this.reject();
        if (isMd5Hash(secret)) this.proof = { md5Hash: secret };
        this.finish();
        return;
      }
      case 'sasl-initial': {
        const initial = decodeSASLInitialResponse(bytes);
        if (initial.mechanism !== 'SCRAM-SHA-256') {
          throw new ShardgateError('PROTOCOL_VIOLATION', {
            detail: `unsupported SASL mechanism ${initial.mechanism}; use SCRAM-SHA-256`,
          });
        }
        const serverFirst = this.scram!.handleClientFirst(initial.data.toString('utf8'));
        this.step = 'sasl-final';
        this.session.write(encodeAuthenticationSASLContinue(serverFirst));
        return;
      }
      case 'sasl-final': {
        const response = decodeSASLResponse(bytes);
        const serverFinal = this.scram!.handleClientFinal(response.toString('utf8'));
        if (serverFinal === null || !this.known) this.reject();
        this.proof = { scramKeys: this.scram!.provenKeys ?? undefined };
        this.session.write(encodeAuthenticationSASLFinal(serverFinal!));
        this.finish();
        return;
      }
      default:
        throw new ShardgateError('PROTOCOL_VIOLATION', { detail: 'unexpected password message' });
    }
  }

  private reject(): never {
    throw new ShardgateError(this.known ? 'AUTH_FAILED' : 'UNKNOWN_USER', { user: this.session.state!.user });
  }

  private finish(): void {
    this.step = 'done';
    // After the password: before it, the answer would tell known users from unknown ones.
    const state = this.session.state!;
    const config = this.services.config;
    const user = config.users.find((u) => u.name === state.user);
    const served = databaseNames(config);
    if (served.length > 0 && !served.includes(state.database)) {
      throw new ShardgateError('UNKNOWN_DATABASE', {
        database: state.database,
        known: served.join(', '),
      });
    }
    if (user && user.databases.length > 0 && !user.databases.includes(state.database)) {
      throw new ShardgateError('UNKNOWN_DATABASE', {
        database: state.database,
        known: user.databases.join(', '),
      });
    }
    this.session.backend = backendIdentity(state.user, user, this.proof);
    this.session.write(encodeAuthenticationOk());
    this.onAuthenticated().catch((err: unknown) => {
      const e =
        err instanceof ShardgateError
          ? err
          : new ShardgateError('BACKEND_UNAVAILABLE', {
              server: 'default shard primary',
              shard: 'default',
              detail: err instanceof Error ? err.message : String(err),
            });
      this.session.fail(e, true);
    });
  }
}

/** The method an unknown user name is asked for: one of the config's password users' methods. */
export function methodForUnknownUsers(users: readonly UserConfig[], name: string): 'md5' | 'scram-sha-256' {
  const methods = users.flatMap((u) => (u.auth === 'trust' ? [] : [u.auth]));
  return methodForUnknownUser(name, methods, 'scram-sha-256');
}

/**
 * Derives every clear-text config password's SCRAM secret now, not during some login (SCRAM on
 * this port, and the MySQL port's full authentication compares through it too).
 */
export function prepareScramSecrets(users: readonly UserConfig[]): void {
  for (const u of users) if (u.password && !isMd5Hash(u.password)) scramSecretFor(u.password);
}

/** What an unknown md5 user's answer is checked against (no answer matches: `!user` refuses anyway). */
const UNKNOWN_USER_PASSWORD = randomBytes(16).toString('hex');
