// PgBouncer's auth_user + auth_query: a user absent from `users` is looked up on the default
// shard's primary by a dedicated auth user, and logs in with the verifier the server holds. The
// answer (or its absence) is kept for authQuery.cacheMs so a login storm costs one query per user.
import type { ShardgateConfig } from '../config/schema.js';
import { PgPool } from './pg-pool.js';
import type { RuntimeTopology } from './pg-topology.js';

interface Cached {
  secret: string | null;
  at: number;
}

const CACHE_MAX = 10_000;

export class AuthQueryLookup {
  private readonly cache = new Map<string, Cached>();
  private pool: PgPool | null = null;

  constructor(
    private readonly topology: RuntimeTopology,
    private readonly config: NonNullable<ShardgateConfig['authQuery']>,
  ) {}

  /** The stored verifier ("SCRAM-SHA-256$..." or "md5...") of `user`, or null when it has none. */
  async secretOf(user: string): Promise<string | null> {
    const hit = this.cache.get(user);
    if (hit && Date.now() - hit.at < this.config.cacheMs) return hit.secret;
    const pool = this.poolNow();
    const conn = await pool.acquire();
    let secret: string | null = null;
    try {
      const result = await conn.exec(this.config.query.replaceAll('$1', quoteLiteral(user, conn.parameters)));
      const row = result.rows[0];
      // (name, verifier): a row without a verifier is a role that cannot log in by password.
      secret = row && typeof row[1] === 'string' && row[1] !== '' ? row[1] : null;
      pool.release(conn);
    } catch (err) {
      pool.discard(conn);
      throw err;
    }
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(user, { secret, at: Date.now() });
    return secret;
  }

  private poolNow(): PgPool {
    const view = this.topology.view();
    const shard = this.topology.shardList().find((s) => s.name === view.defaultShard)!;
    const server = shard.primary;
    // The default shard's primary may change (promotion): follow it.
    const name = `${server.name}/auth`;
    if (this.pool && this.pool.address.name === name) return this.pool;
    void this.pool?.close();
    this.pool = new PgPool(
      {
        ...server.pool.address,
        name,
        user: this.config.user,
        password: this.config.password,
        database: this.config.database ?? server.database,
      },
      { ...this.topology.currentConfig.pool, size: 2, minIdle: 0 },
    );
    return this.pool;
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

/** A string literal for the server's current standard_conforming_strings. */
function quoteLiteral(value: string, parameters: Map<string, string>): string {
  if (value.includes('\0')) return 'NULL';
  const quoted = value.replaceAll("'", "''");
  if (parameters.get('standard_conforming_strings') === 'off' || value.includes('\\'))
    return `E'${quoted.replaceAll('\\', '\\\\')}'`;
  return `'${quoted}'`;
}
