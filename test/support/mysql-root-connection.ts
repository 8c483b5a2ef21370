// A root connection straight to one MariaDB server with the caller's driver options, for tests
// that compare shardgate against the server itself under the same options (fx.direct and the
// cluster's own connections take none).
import mysql from 'mysql2/promise';

export function rootConnection(
  server: { host: string; port: number },
  options: mysql.ConnectionOptions = {},
): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: server.host,
    port: server.port,
    user: 'root',
    password: '',
    ...options,
  });
}
