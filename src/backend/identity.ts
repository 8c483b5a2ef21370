// Who a client session is on the servers, for both protocols (DESIGN principle 10): a user of the
// config reaches the servers as its own role unless it says `backend: service`; its secret comes
// from `users[].backend.password`, else its own clear-text password, else what its login proved
// (the SCRAM ClientKey recovered from its proof, or its md5 hash), as PgBouncer does. Pools are
// kept per (server, identity, backend database): see IdentityPools.
import { createHash } from 'node:crypto';
import { isMd5Hash } from '../auth/md5.js';
import type { ScramKeys } from '../auth/scram.js';
import type { DatabaseMapping, ShardgateConfig, UserConfig } from '../config/schema.js';

export interface BackendIdentity {
  /** The shared backend.user / backend.mysqlUser identity (explicitly configured per user). */
  service: boolean;
  /** Role (PostgreSQL) or user (MySQL) name on the servers; '' for the service identity. */
  user: string;
  /** Clear text, or an "md5..." hash (PostgreSQL md5 servers); '' when none is known. */
  password: string;
  /** PostgreSQL SCRAM keys proven by the client's own exchange (its verifier is the server's). */
  scramKeys?: ScramKeys;
}

export const SERVICE_IDENTITY: BackendIdentity = Object.freeze({ service: true, user: '', password: '' });

/** What a client's login proved beyond its name: used when no clear-text password is known. */
export interface LoginProof {
  scramKeys?: ScramKeys;
  /** The stored md5 hash the client answered (auth_query users with md5 verifiers). */
  md5Hash?: string;
}

/** The identity a user of the config (or an auth_query user, `user` undefined) reaches the servers as. */
export function backendIdentity(
  name: string,
  user: UserConfig | undefined,
  proof: LoginProof,
): BackendIdentity {
  if (user?.backend === 'service') return SERVICE_IDENTITY;
  const role = user?.backend?.user ?? name;
  const configured = user?.backend?.password;
  if (configured !== undefined) return { service: false, user: role, password: configured };
  const own = user?.password ?? '';
  // A clear-text secret logs in anywhere; a stored hash or verifier only through what it proved.
  if (own !== '' && !own.startsWith('SCRAM-SHA-256$') && !isMd5Hash(own))
    return { service: false, user: role, password: own };
  if (proof.scramKeys) return { service: false, user: role, password: '', scramKeys: proof.scramKeys };
  if (proof.md5Hash) return { service: false, user: role, password: proof.md5Hash };
  if (isMd5Hash(own)) return { service: false, user: role, password: own };
  return { service: false, user: role, password: '' };
}

/**
 * The MySQL side's identity for a config user: the same rules, with a clear-text secret only
 * (a SCRAM verifier or md5 hash of the PostgreSQL side cannot log in to MySQL).
 */
export function mysqlBackendIdentity(user: UserConfig): BackendIdentity {
  const identity = backendIdentity(user.name, user, {});
  if (identity.service || !isMd5Hash(identity.password)) return identity;
  return { ...identity, password: '' };
}

/**
 * An identity of role `role` that the config alone can log in with (recovery finishes a prepared
 * transaction as the role that prepared it): a user mapped to that role whose backend.password,
 * clear-text password or md5 hash shardgate holds. Null when only a client's login could prove it.
 */
export function configuredIdentity(config: ShardgateConfig, role: string): BackendIdentity | null {
  for (const user of config.users) {
    const identity = backendIdentity(user.name, user, {});
    if (!identity.service && identity.user === role && identity.password !== '') return identity;
  }
  return null;
}

/** The client-visible database names of `databases:` (empty: any name is served). */
export function databaseNames(config: ShardgateConfig): string[] {
  return config.databases.map((d) => (typeof d === 'string' ? d : d.name));
}

function mappingFor(config: ShardgateConfig, clientDatabase: string): DatabaseMapping | undefined {
  for (const d of config.databases) if (typeof d !== 'string' && d.name === clientDatabase) return d;
  return undefined;
}

/**
 * The backend database a client of `clientDatabase` uses on a server of `shard` whose own
 * database is `serverDatabase`: the mapping's per-shard name, else its `database`, else the
 * server's (a name listed without a mapping, or no `databases:` at all).
 */
export function backendDatabase(
  config: ShardgateConfig,
  clientDatabase: string,
  shard: string,
  serverDatabase: string,
): string {
  const m = mappingFor(config, clientDatabase);
  return m?.shards[shard] ?? m?.database ?? serverDatabase;
}

/** Pools of one server per (identity, database); the service identity on the server's own database is `base`. */
export class IdentityPools<P extends RetirablePool> {
  private readonly pools = new Map<string, { identity: BackendIdentity; database: string; pool: P }>();

  constructor(
    readonly base: P,
    private readonly make: (identity: BackendIdentity, database: string) => P,
  ) {}

  /**
   * The pool for `identity` on `database`. The secret is part of the key: a connection logged in
   * with one secret is never handed to a login that brought another (two config users mapped to
   * one role with different passwords, a password changed since).
   */
  poolFor(identity: BackendIdentity, database: string, serverDatabase: string): P {
    if (identity.service && database === serverDatabase) return this.base;
    const key = identityPoolKey(identity, database);
    let entry = this.pools.get(key);
    if (!entry) {
      entry = { identity, database, pool: this.make(identity, database) };
      this.pools.set(key, entry);
    }
    return entry.pool;
  }

  /**
   * Takes `pool` (opened ahead, e.g. a split target's pool warmed before the switch) as the one
   * for `identity` on `database`; a pool already there for it stays and `pool` is closed.
   */
  adopt(identity: BackendIdentity, database: string, pool: P): void {
    const key = identityPoolKey(identity, database);
    if (this.pools.has(key)) void pool.close();
    else this.pools.set(key, { identity, database, pool });
  }

  /** The pools besides the base one, with whom and where they log in as (to open the same elsewhere). */
  identityPools(): Array<{ identity: BackendIdentity; database: string; pool: P }> {
    return [...this.pools.values()];
  }

  /** A pool already open for role `user` on `database` (made for a client that logged in as it), if any. */
  existingFor(user: string, database: string): P | undefined {
    const prefix = `${user}\0${database}\0`;
    for (const [key, entry] of this.pools) if (key.startsWith(prefix)) return entry.pool;
    return undefined;
  }

  /** Every pool, the base one first (stats, close). */
  all(): P[] {
    return [this.base, ...[...this.pools.values()].map((e) => e.pool)];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((p) => p.close()));
    this.pools.clear();
  }

  /** Every pool closed to checkouts now, its connections ended later (Pool.retire); then `done`. */
  retire(lingerMs: number, done?: () => void): void {
    const pools = this.all();
    let left = pools.length;
    for (const p of pools) p.retire(lingerMs, () => --left === 0 && done?.());
  }
}

/** A pool that can be closed at once or retired (pool.ts). */
export interface RetirablePool {
  close(): Promise<void>;
  retire(lingerMs: number, done?: () => void): void;
}

/** The key of an identity's pool on `database` among one server's pools. */
export function identityPoolKey(identity: BackendIdentity, database: string): string {
  return identity.service ? `\0${database}` : `${identity.user}\0${database}\0${secretDigest(identity)}`;
}

/** A digest of what an identity logs in with (pool keys hold no secret in clear). */
function secretDigest(identity: BackendIdentity): string {
  const h = createHash('sha256').update(identity.password).update('\0');
  if (identity.scramKeys) h.update(identity.scramKeys.clientKey).update(identity.scramKeys.salt);
  return h.digest('base64');
}
