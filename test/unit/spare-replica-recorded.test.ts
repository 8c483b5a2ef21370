// A migration records its targets' replicas when it is planned (and checked); the switch and every
// later start (configWithMigrations, from the state file) install that list. An edit of
// migration.spares between the plan and a restart cannot put an unchecked server into the
// topology; a state file of an older version, without the list, still reads the config.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { configWithMigrations } from '../../src/migration/manager.js';
import { planSplit } from '../../src/migration/plan.js';
import { planMerge } from '../../src/migration/plan-merge.js';
import { MigrationStore } from '../../src/migration/state-store.js';
import { switchedMigrationState } from '../support/switched-migration-state.js';

function configWith(stateDir: string, replicaPort: number): ShardgateConfig {
  return parseConfig({
    users: [{ name: 'app', password: 'app' }],
    shards: [{ name: 'p0', primary: { host: '127.0.0.1', port: 6001 } }],
    mysqlShards: [
      { name: 'my0', keyRange: '-80', primary: { host: '127.0.0.1', port: 6003 } },
      { name: 'my1', keyRange: '80-', primary: { host: '127.0.0.1', port: 6004 } },
    ],
    tables: { likes: { shardKey: 'user_id' } },
    migration: {
      stateDir,
      spares: [
        {
          name: 'spare1',
          host: '127.0.0.1',
          port: 6010,
          replicas: [{ name: 'spare1-r', host: '127.0.0.1', port: replicaPort }],
        },
        { name: 'spare2', host: '127.0.0.1', port: 6011 },
      ],
    },
  });
}

const request = { atChosenBy: 'operator' as const, verify: 'full' as const, inMaintenanceWindow: false };
const replicasOf = (config: ShardgateConfig, shard: string) =>
  [...config.shards, ...config.mysqlShards].find((s) => s.name === shard)?.replicas.map((r) => r.port);

describe('the replicas a restart installs for a switched migration', () => {
  it('are the ones recorded at plan time, whatever migration.spares says by then', () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'sg-recorded-'));
    const planned = configWith(stateDir, 7001);
    const split = planSplit(planned, {
      ...request,
      shard: 'my0',
      at: '40',
      targets: ['spare1', 'spare2'],
      sizes: new Map(),
    });
    expect(split.targets.map((t) => t.replicas?.map((r) => r.port))).toEqual([[7001], []]);
    const merge = planMerge(planned, {
      shards: ['my0', 'my1'],
      into: 'spare1',
      verify: 'full',
      sizes: new Map(),
      sourceTables: new Map(),
      inMaintenanceWindow: false,
    });
    expect(merge.targets[0]!.replicas?.map((r) => r.port)).toEqual([7001]);

    // The state file goes through JSON, as a restart reads it; the config is edited meanwhile.
    new MigrationStore(stateDir).save(switchedMigrationState('split-my0', split));
    const edited = configWith(stateDir, 7999);
    const restarted = configWithMigrations(edited);
    expect(replicasOf(restarted, 'my0a')).toEqual([7001]);
    expect(replicasOf(restarted, 'my0b')).toEqual([]);
  });

  it('are read from the config for a state file of an older version, without the list', () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'sg-recorded-'));
    const split = planSplit(configWith(stateDir, 7001), {
      ...request,
      shard: 'p0',
      at: '80',
      targets: ['spare1', 'spare2'],
      sizes: new Map(),
    });
    for (const t of split.targets) delete t.replicas;
    new MigrationStore(stateDir).save(switchedMigrationState('split-p0', split));
    const restarted = configWithMigrations(configWith(stateDir, 7999));
    expect(replicasOf(restarted, 'p0a')).toEqual([7999]);
  });
});
