// Authenticates a MySQL client (at login and on COM_CHANGE_USER) against the config users. All
// config users may log in over MySQL, each with its `mysqlAuth` plugin; a client that answered
// with another plugin is switched to it (AuthSwitchRequest). caching_sha2_password does fast
// authentication from the cache a previous full authentication filled, else full
// authentication: the clear password over TLS, or RSA-encrypted after the client asks for our
// public key; a clear password on an unencrypted connection is refused with the way out.
// Unknown users go through the same exchange and fail with the same message (no probing): an
// empty or wrong fast-auth answer is refused the same way for every name, a failed fast auth falls
// back to full authentication (as MySQL's server does), and checking an unknown user's clear
// password costs the same key derivation as a hashed config password. An unknown name is asked
// for one of the config users' plugins (unknown-user-method.ts), and under mysql_native_password
// its answer is checked against a dummy verifier (the same hashing work). A user configured without
// a password logs in with an empty one only with `auth: trust` (which accepts any answer).
import { randomBytes } from 'node:crypto';
import type { UserConfig } from '../../config/schema.js';
import { ShardgateError } from '../../errors.js';
import { methodForUnknownUser } from '../unknown-user-method.js';
import {
  clearPassword,
  nativeVerifier,
  nativeVerify,
  rsaDecryptPassword,
  sha2Verify,
} from './auth-crypto.js';
import { encodeAuthMoreData, encodeAuthSwitchRequest } from './handshake.js';
import {
  clearPasswordMatches,
  dummyPasswordCheck,
  nativeVerifierFor,
  type Sha2AuthState,
} from './password-check.js';

export const NATIVE = 'mysql_native_password';
export const SHA2 = 'caching_sha2_password';

const FAST_AUTH_OK = 0x03;
const PERFORM_FULL_AUTH = 0x04;
const REQUEST_PUBLIC_KEY = 0x02;

type Step = 'switch' | 'full' | 'rsa' | 'done';

/** What an unknown mysql_native_password user's answer is checked against (then refused). */
const UNKNOWN_USER_VERIFIER = nativeVerifier(randomBytes(16).toString('hex'));

export interface AuthExchangeOptions {
  users: readonly UserConfig[];
  sha2: Sha2AuthState;
  scramble: Buffer;
  /** The client's user name and the plugin / response it answered with. */
  user: string;
  plugin: string | null;
  response: Buffer;
  /** Ask for the plugin's response whatever the client sent (COM_CHANGE_USER, with a new scramble). */
  alwaysSwitch?: boolean;
  /** Sends one auth packet payload (the session frames it with the next sequence id). */
  send(payload: Buffer): void;
  secure(): boolean;
  onSuccess(user: UserConfig): void;
  onFailure(err: ShardgateError): void;
  /** An operator-side reason a login failed that the client must not learn (it names the user). */
  onConfigProblem?(user: string, problem: string): void;
}

export class AuthExchange {
  private step: Step = 'done';
  private readonly user: UserConfig | undefined;
  private readonly plugin: string;

  constructor(private readonly o: AuthExchangeOptions) {
    this.user = o.users.find((u) => u.name === o.user);
    this.plugin =
      this.user?.mysqlAuth ??
      methodForUnknownUser(
        o.user,
        o.users.flatMap((u) => (u.auth === 'trust' ? [] : [u.mysqlAuth])),
        SHA2,
      );
  }

  get finished(): boolean {
    return this.step === 'done';
  }

  start(): void {
    const used = this.o.plugin ?? NATIVE;
    if (used !== this.plugin || this.o.alwaysSwitch) {
      this.step = 'switch';
      this.o.send(encodeAuthSwitchRequest(this.plugin, this.o.scramble));
      return;
    }
    void this.verify(this.o.response);
  }

  /** An auth packet from the client while the exchange runs. */
  onPacket(payload: Buffer): void {
    switch (this.step) {
      case 'switch':
        this.step = 'done';
        void this.verify(payload);
        return;
      case 'full':
        void this.fullAuth(payload);
        return;
      case 'rsa':
        void this.rsaAuth(payload);
        return;
      default:
        throw new ShardgateError('MYSQL_MALFORMED_PACKET', {
          detail: 'an auth packet after authentication ended',
        });
    }
  }

  private fail(): void {
    this.step = 'done';
    this.o.onFailure(new ShardgateError('AUTH_FAILED', { user: this.o.user }));
  }

  private succeed(user: UserConfig): void {
    this.step = 'done';
    this.o.onSuccess(user);
  }

  private async verify(response: Buffer): Promise<void> {
    const user = this.user;
    if (user?.auth === 'trust') {
      this.step = 'done';
      if (this.plugin === SHA2) this.o.send(encodeAuthMoreData(Buffer.from([FAST_AUTH_OK])));
      return this.succeed(user);
    }
    // No password user can log in with an empty answer: refused at once, known or not.
    if (response.length === 0) {
      this.step = 'done';
      return this.fail();
    }
    if (this.plugin === NATIVE) {
      this.step = 'done';
      if (!user) {
        nativeVerify(response, this.o.scramble, UNKNOWN_USER_VERIFIER);
        return this.fail();
      }
      const verifier = nativeVerifierFor(user);
      if (!verifier) {
        // Told to the operator only: the client's answer must not differ from a wrong password.
        this.o.onConfigProblem?.(
          user.name,
          'its password is stored hashed in config and mysql_native_password needs it in clear text; set mysqlAuth: caching_sha2_password for this user',
        );
        return this.fail();
      }
      return nativeVerify(response, this.o.scramble, verifier) ? this.succeed(user) : this.fail();
    }
    // caching_sha2_password: fast auth from the cache; anything else (a miss, a wrong answer, an
    // unknown user) goes to full authentication.
    const cached = user ? this.o.sha2.fastVerifier(user) : null;
    if (user && cached && sha2Verify(response, this.o.scramble, cached)) {
      this.step = 'done';
      this.o.send(encodeAuthMoreData(Buffer.from([FAST_AUTH_OK])));
      return this.succeed(user);
    }
    this.step = 'full';
    this.o.send(encodeAuthMoreData(Buffer.from([PERFORM_FULL_AUTH])));
  }

  private async fullAuth(payload: Buffer): Promise<void> {
    if (this.o.secure()) return this.checkClear(clearPassword(payload));
    if (payload.length === 1 && payload[0] === REQUEST_PUBLIC_KEY) {
      this.step = 'rsa';
      const { publicKey } = await this.o.sha2.rsaKeys();
      this.o.send(encodeAuthMoreData(Buffer.from(publicKey)));
      return;
    }
    if (payload.length === 256) return this.rsaAuth(payload);
    this.step = 'done';
    this.o.onFailure(
      new ShardgateError('MYSQL_AUTH_UNAVAILABLE', {
        user: this.o.user,
        plugin: SHA2,
        detail:
          'the first login of a user needs the password over TLS or RSA-encrypted; connect with TLS, or let the client request the server public key (mysql2 does; mysql/mariadb CLI: --get-server-public-key)',
      }),
    );
  }

  private async rsaAuth(payload: Buffer): Promise<void> {
    this.step = 'done';
    const { privateKey } = await this.o.sha2.rsaKeys();
    const clear = rsaDecryptPassword(payload, this.o.scramble, privateKey);
    if (clear === null) return this.fail();
    this.checkClear(clear);
  }

  private checkClear(clear: string): void {
    this.step = 'done';
    const user = this.user;
    if (!user) {
      dummyPasswordCheck(clear);
      this.fail();
      return;
    }
    if (!clearPasswordMatches(user, clear)) {
      this.fail();
      return;
    }
    this.o.sha2.remember(user, clear);
    this.succeed(user);
  }
}
