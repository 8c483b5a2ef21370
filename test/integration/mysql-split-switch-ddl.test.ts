// A MySQL split whose source logged DDL on an unrelated table as its last event before the cutover.
// zongji counts a GTID only when the next group arrives, and a DDL group has no commit marker: the
// capture must count the DDL itself, or the block waits for a write that its hold keeps from
// coming, runs into its deadline and the split does not switch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import type { MariadbServer } from '../../src/local/mariadb-cluster.js';
import type { CutoverGate } from '../../src/migration/cutover-gate.js';
import { runMysqlSplit } from '../../src/migration/mysql-split.js';
import { movedTables } from '../../src/migration/plan.js';
import { Throttle } from '../../src/migration/throttle.js';
import type { ServerAddress, SplitTarget } from '../../src/migration/types.js';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';

let fx: MysqlProxyFixture;
const address = (s: { name: string; host: string; port: number }): ServerAddress => ({
  name: s.name,
  host: s.host,
  port: s.port,
  user: 'root',
  database: 'shardgate',
});

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: 20 });
}, 180_000);
afterAll(async () => {
  await fx?.stop();
});

describe('MySQL split after DDL on an unrelated table', () => {
  it('switches in its one block when the last source event before it is DDL', async () => {
    const s0 = fx.cluster.shards.find((s) => s.name === 's0')!.primary as MariadbServer;
    const spares = [await fx.cluster.addSpare('spare1'), await fx.cluster.addSpare('spare2')];
    const targets: SplitTarget[] = [
      { shard: 's0a', server: address(spares[0]!), range: parseKeyRange('-40') },
      { shard: 's0b', server: address(spares[1]!), range: parseKeyRange('40-80') },
    ];
    const source = await fx.direct(s0.name);
    const gtidOf = async () =>
      String(((await source.query('SELECT @@gtid_binlog_pos AS p'))[0] as Array<{ p: string }>)[0]!.p);
    let ddlGtid = '';
    // The DDL runs after the catch-up outside the block, right before the block takes the source.
    const gate: Pick<CutoverGate, 'block'> = {
      block: async (...args) => {
        await source.query('CREATE TABLE audit_elsewhere (id INT PRIMARY KEY)');
        ddlGtid = await gtidOf();
        return fx.proxy.cutover.block(...args);
      },
    };
    const result = await runMysqlSplit({
      migrationId: 'mysql-split-ddl-test',
      sourceShard: 's0',
      source: address(s0),
      targets,
      tables: movedTables(fx.config, 's0', { sizes: new Map() }),
      throttle: new Throttle({
        rowsPerSecond: 20_000,
        bytesPerSecond: 0,
        maintenanceWindow: null,
        maintenanceMultiplier: 1,
        batchRows: 500,
      }),
      topology: fx.proxy.topology,
      gate,
      serverId: 9102,
      graceMs: 200,
      deadlineMs: 5_000,
      catchUpTimeoutMs: 30_000,
    });
    // Nothing was written after the DDL: it is the source's last event, the one the block waited for.
    expect(await gtidOf()).toBe(ddlGtid);
    expect(result.cutover.reason).toBeNull();
    expect(result.cutover.outcome).toBe('switched');
    expect(result.verify?.mismatches).toEqual([]);
    expect(
      fx.proxy
        .mysql!.topology.shardList()
        .map((s) => s.name)
        .sort(),
    ).toEqual(['s0a', 's0b', 's1']);
  }, 240_000);
});
