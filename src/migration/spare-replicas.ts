// A target's replicas (migration.spares[].replicas) become the new shard's replicas at the
// switch, so each must be a streaming standby of that very spare: a standby of another server
// would serve reads of rows it never had. Checked before a migration starts: the replica is in
// recovery and has its spare's system identifier (a physical copy of it, pg_basebackup's mark).
import type { ShardgateConfig } from '../config/schema.js';
import { ShardgateError } from '../errors.js';
import { withClient } from './pg-connect.js';
import { serverAddress } from './plan.js';
import type { ServerAddress } from './types.js';

export async function checkSpareReplicas(
  config: ShardgateConfig,
  targets: readonly ServerAddress[],
): Promise<void> {
  for (const target of targets) {
    const spare = config.migration.spares.find((s) => s.name === target.name);
    if (!spare || spare.replicas.length === 0) continue;
    const own = await systemIdentifier(target);
    for (const [i, r] of spare.replicas.entries()) {
      const name = r.name ?? `${target.name}-replica${i + 1}`;
      const address = serverAddress(r, name, config);
      const seen = await withClient(address, 'migration-check', async (c) => {
        const row = (
          await c.query<{ recovery: string; id: string }>(
            'SELECT pg_is_in_recovery()::text AS recovery, (SELECT system_identifier::text FROM pg_control_system()) AS id',
          )
        ).rows[0]!;
        return row;
      }).catch((err: unknown) => {
        throw new ShardgateError('MIGRATION_INVALID', {
          detail: `replica ${name} of target ${target.name} does not answer (${(err as Error).message}); start it or remove it from migration.spares`,
        });
      });
      if (seen.recovery !== 'true') {
        throw new ShardgateError('MIGRATION_INVALID', {
          detail: `replica ${name} of target ${target.name} is not a standby (it is not in recovery); seed it from ${target.name} (pg_basebackup -R) or remove it from migration.spares`,
        });
      }
      if (seen.id !== own) {
        throw new ShardgateError('MIGRATION_INVALID', {
          detail: `replica ${name} is not a standby of target ${target.name} (system identifier ${seen.id}, ${target.name} has ${own}); seed it from ${target.name} (pg_basebackup -R) or remove it from migration.spares`,
        });
      }
    }
  }
}

async function systemIdentifier(server: ServerAddress): Promise<string> {
  return withClient(server, 'migration-check', async (c) => {
    const r = await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    return r.rows[0]!.id;
  });
}
