// A MySQL migration's fence taken through the PostgreSQL topology before the MySQL topology exists
// (the migration manager's restore at start runs first) still reaches the MySQL replicas.
import { afterEach, describe, expect, it } from 'vitest';
import { MysqlTopology } from '../../src/backend/mysql-topology.js';
import { RuntimeTopology } from '../../src/backend/pg-topology.js';
import { parseConfig } from '../../src/config/load.js';

const config = parseConfig({
  users: [{ name: 'app', password: 'app' }],
  shards: [{ name: 's0', primary: { port: 5001 }, replicas: [{ port: 5002 }] }],
  mysqlShards: [{ name: 's0', primary: { port: 3301 }, replicas: [{ port: 3302 }] }],
});

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

const catchUp = (t: RuntimeTopology | MysqlTopology) => t.shardList()[0]!.replicas[0]!.view.catchUpTo;

describe('replica fences across the two topologies', () => {
  it('hands a fence of the other protocol to a topology that subscribes later', () => {
    const pg = new RuntimeTopology(config);
    opened.push(pg);
    pg.fenceReplicas('s0', '0-1-42', 'mysql');
    // Not the PostgreSQL s0's replicas: a GTID never covers an LSN.
    expect(catchUp(pg) ?? null).toBeNull();
    const mysql = new MysqlTopology(config);
    opened.push(mysql);
    pg.forwardFences((shard, position, protocol) => mysql.fenceReplicas(shard, position, protocol));
    expect(catchUp(mysql)).toBe('0-1-42');
  });

  it('forwards a fence taken after the subscription, and keeps only the latest per shard', () => {
    const pg = new RuntimeTopology(config);
    const mysql = new MysqlTopology(config);
    opened.push(pg, mysql);
    pg.fenceReplicas('s0', '0-1-1', 'mysql');
    pg.fenceReplicas('s0', '0-1-7', 'mysql');
    const seen: string[] = [];
    pg.forwardFences((shard, position, protocol) => {
      seen.push(`${protocol}:${shard}@${position}`);
      mysql.fenceReplicas(shard, position, protocol);
    });
    expect(seen).toEqual(['mysql:s0@0-1-7']);
    pg.fenceReplicas('s0', '0-1-9', 'mysql');
    expect(catchUp(mysql)).toBe('0-1-9');
  });
});
