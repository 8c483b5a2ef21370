// A MySQL split whose source logged DDL on an unrelated table as its last event before the cutover.
// zongji counts a GTID only when the next group arrives, and a DDL group has no commit marker: the
// capture must count the DDL itself, or the block waits for a write that its hold keeps from
// coming, runs into its deadline and the split does not switch.
import { describe, expect, it } from 'vitest';
import type { CutoverGate } from '../../src/migration/cutover-gate.js';
import { expectSwitchedToHalves, s0Primary, spareHalves, splitS0 } from '../support/mysql-split-targets.js';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const fx = useMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: 20 }, 180_000);

describe('MySQL split after DDL on an unrelated table', () => {
  it('switches in its one block when the last source event before it is DDL', async () => {
    const { targets } = await spareHalves(fx.cluster, ['-40', '40-80']);
    const source = await fx.direct(s0Primary(fx).name);
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
    const result = await splitS0(fx, targets, {
      migrationId: 'mysql-split-ddl-test',
      gate,
      serverId: 9102,
      deadlineMs: 5_000,
      catchUpTimeoutMs: 30_000,
    });
    // Nothing was written after the DDL: it is the source's last event, the one the block waited for.
    expect(await gtidOf()).toBe(ddlGtid);
    expectSwitchedToHalves(fx, result);
  }, 240_000);
});
