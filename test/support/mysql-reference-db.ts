// An unsharded "reference" MariaDB beside a MySQL proxy fixture (a spare server of its cluster),
// holding the demo schema and the same rows the fixture's shards hold: differential tests compare
// the proxy's answers against it.
import mysql from 'mysql2/promise';
import { parseConfig } from '../../src/config/load.js';
import { loadMysqlDemoData } from '../../src/local/mysql-demo-schema.js';
import type { MysqlProxyFixture } from './mysql-proxy-fixture.js';

/** Starts spare server `solo`, loads `users` demo users into it and returns a connection as root. */
export async function startMysqlReferenceDatabase(
  fx: MysqlProxyFixture,
  users: number,
): Promise<mysql.Connection> {
  const spare = await fx.cluster.addSpare('solo');
  const soloConfig = parseConfig({
    users: [{ name: 'x', backend: 'service' }],
    shards: [{ name: 'pg', primary: { port: 1 } }],
    mysqlShards: [{ name: 'solo', primary: { host: spare.host, port: spare.port } }],
    tables: fx.config.tables,
    backend: { mysqlUser: 'root', mysqlDatabase: 'shardgate' },
  });
  await loadMysqlDemoData(soloConfig, { users });
  return mysql.createConnection({ host: spare.host, port: spare.port, user: 'root', database: 'shardgate' });
}
