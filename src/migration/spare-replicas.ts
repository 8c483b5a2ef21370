// A target's replicas (migration.spares[].replicas) become the new shard's replicas at the
// switch, so each must replicate from that very spare: a replica of another server would serve
// reads of rows it never had. Checked before a migration starts, for both protocols: this file
// walks the spares and their replicas and turns a refusal into a coded error; what "a replica of
// this spare" means is the protocol's (PostgreSQL: below; MySQL: mysql-spare-replicas.ts).
import type { ServerConfig, ShardgateConfig } from '../config/schema.js';
import { ShardgateError } from '../errors.js';
import { mysqlReplicaCheck } from './mysql-spare-replicas.js';
import { withClient } from './pg-connect.js';
import { type ReplicaSource, serverAddress, targetReplicas } from './plan.js';
import type { ServerAddress } from './types.js';

/** Names for the messages: the replica as configured, and the spare it must replicate from. */
export interface ReplicaNames {
  replica: string;
  target: string;
}

/** One protocol's notion of "this server replicates from that spare". */
export interface ReplicaCheck<Own> {
  address(server: ServerConfig, name: string, config: ShardgateConfig): ServerAddress;
  /** What identifies the spare to its replicas. */
  own(target: ServerAddress): Promise<Own>;
  /** Why `replica` cannot serve as the spare's replica, saying what to do; null when it can. */
  problem(replica: ServerAddress, own: Own, names: ReplicaNames): Promise<string | null>;
}

export async function checkSpareReplicas(
  config: ShardgateConfig,
  targets: readonly ReplicaSource[],
  protocol: 'postgres' | 'mysql',
): Promise<void> {
  if (protocol === 'mysql') await checkWith(mysqlReplicaCheck, config, targets);
  else await checkWith(pgReplicaCheck, config, targets);
}

async function checkWith<Own>(
  check: ReplicaCheck<Own>,
  config: ShardgateConfig,
  targets: readonly ReplicaSource[],
): Promise<void> {
  for (const t of targets) {
    const target = t.server;
    const replicas = targetReplicas(config, t);
    if (replicas.length === 0) continue;
    // The spare itself must answer first: its identity is what each replica is compared with.
    const own = await check.own(target).catch((err: unknown) => {
      throw new ShardgateError('MIGRATION_INVALID', {
        detail: `target ${target.name} (${target.host}:${target.port}) does not answer, so its replicas cannot be checked (${(err as Error).message}); start it, fix its address under migration.spares, or choose another spare`,
      });
    });
    for (const [i, r] of replicas.entries()) {
      const names = { replica: r.name ?? `${target.name}-replica${i + 1}`, target: target.name };
      const problem = await check
        .problem(check.address(r, names.replica, config), own, names)
        .catch((err: unknown) => {
          throw new ShardgateError('MIGRATION_INVALID', {
            detail: `replica ${names.replica} of target ${target.name} does not answer (${(err as Error).message}); start it or remove it from migration.spares`,
          });
        });
      if (problem) throw new ShardgateError('MIGRATION_INVALID', { detail: problem });
    }
  }
}

/** What a PostgreSQL replica reports about itself. */
export interface PgReplicaFacts {
  inRecovery: boolean;
  systemIdentifier: string;
}

/**
 * A streaming standby of the spare is in recovery and has the spare's system identifier (a
 * physical copy of it, pg_basebackup's mark).
 */
export function pgReplicaProblem(seen: PgReplicaFacts, own: string, names: ReplicaNames): string | null {
  const seed = `seed it from ${names.target} (pg_basebackup -R) or remove it from migration.spares`;
  if (!seen.inRecovery)
    return `replica ${names.replica} of target ${names.target} is not a standby (it is not in recovery); ${seed}`;
  if (seen.systemIdentifier !== own)
    return `replica ${names.replica} is not a standby of target ${names.target} (system identifier ${seen.systemIdentifier}, ${names.target} has ${own}); ${seed}`;
  return null;
}

const pgReplicaCheck: ReplicaCheck<string> = {
  address: serverAddress,
  own: (target) =>
    withClient(target, 'migration-check', async (c) => {
      const r = await c.query<{ id: string }>(
        'SELECT system_identifier::text AS id FROM pg_control_system()',
      );
      return r.rows[0]!.id;
    }),
  async problem(replica, own, names) {
    const seen = await withClient(replica, 'migration-check', async (c) => {
      const row =
        // withClient reads every column as text: compare the text, a 'f' string is truthy.
        (
          await c.query<{ recovery: string; id: string }>(
            'SELECT pg_is_in_recovery()::text AS recovery, (SELECT system_identifier::text FROM pg_control_system()) AS id',
          )
        ).rows[0]!;
      return { inRecovery: row.recovery === 'true', systemIdentifier: row.id };
    });
    return pgReplicaProblem(seen, own, names);
  },
};
