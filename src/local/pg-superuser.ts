// A superuser session on a local PostgreSQL server the launcher started (user postgres, trust
// auth on loopback): setup, checks and counts that go to a server directly, not through the proxy.
import pg from 'pg';

/** A connected client as postgres on `database`. */
export async function superuserClient(
  server: { host: string; port: number },
  database = 'shardgate',
): Promise<pg.Client> {
  const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres', database });
  await client.connect();
  return client;
}

/** Runs `fn` on a superuser client and always closes it. */
export async function withSuperuser<T>(
  server: { host: string; port: number },
  fn: (client: pg.Client) => Promise<T>,
  database = 'shardgate',
): Promise<T> {
  const client = await superuserClient(server, database);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
