// Real roles (issue 13): each client user reaches the servers as its own role, checked by the
// servers themselves. The launcher's servers check passwords of every role but the superuser
// (passwordLogins), so a login through shardgate only works with the role's real secret.
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeScramVerifier } from '../../src/auth/scram.js';
import { type ProxyFixture, startRolesFixture } from '../support/proxy-fixture.js';

let fx: ProxyFixture;
// One verifier on every server: a SCRAM login proves keys for exactly this salt and count.
const readerVerifier = makeScramVerifier('reader-pw');
const lookedVerifier = makeScramVerifier('looked-pw');

beforeAll(async () => {
  fx = await startRolesFixture({
    users: [
      // Its own role `app` (the demo loader creates it), logging in with its own password.
      { name: 'app', password: 'app-pw' },
      // Only a SCRAM verifier in the config: the client's proof logs in to the servers.
      { name: 'reader', password: readerVerifier },
      // The shared service identity, said explicitly.
      { name: 'ops', password: 'ops-pw', backend: 'service' },
      // Its role exists, but shardgate was given the wrong password for it.
      { name: 'broken', password: 'broken-pw', backend: { user: 'app', password: 'not-apps' } },
    ],
    authQuery: { user: 'postgres', cacheMs: 0 },
    databases: ['shardgate', { name: 'tenantb', database: 'tenant_b' }],
  });
  for (const server of ['s0-primary', 's1-primary']) {
    const c = await fx.direct(server);
    await c.query(`ALTER ROLE reader PASSWORD '${readerVerifier}'`);
    await c.query(`CREATE ROLE looked LOGIN PASSWORD '${lookedVerifier}'`);
    await c.query('GRANT SELECT ON ALL TABLES IN SCHEMA public TO looked');
    await c.query('CREATE DATABASE tenant_b');
    await c.query(`
      CREATE TABLE notes (id int PRIMARY KEY, owner text NOT NULL, body text);
      ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
      CREATE POLICY own_notes ON notes USING (owner = current_user);
      GRANT SELECT ON notes TO app, reader;
      INSERT INTO notes VALUES (1, 'app', 'for app'), (2, 'reader', 'for reader'), (3, 'app', 'also app');`);
    await c.end();
  }
}, 240_000);

afterAll(async () => {
  await fx?.stop();
});

async function connect(user: string, password: string, database = 'shardgate'): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: fx.port, user, password, database });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function loginError(user: string, password: string, database = 'shardgate') {
  try {
    const c = await connect(user, password, database);
    await c.end();
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error(`${user} logged in`);
}

describe('a user reaches the servers as its own role', () => {
  it('is its own role on every shard, without superuser rights', async () => {
    const c = await connect('app', 'app-pw');
    try {
      expect((await c.query('SELECT current_user AS u, session_user AS s')).rows[0]).toEqual({
        u: 'app',
        s: 'app',
      });
      // A scatter read runs on both shards as app (the demo grants DML on the demo tables).
      expect(Number((await c.query('SELECT count(*) AS n FROM users')).rows[0].n)).toBe(50);
      expect((await c.query('SHOW is_superuser')).rows[0].is_superuser).toBe('off');
      await expect(c.query("ALTER SYSTEM SET work_mem = '8MB'")).rejects.toMatchObject({ code: '42501' });
      await expect(c.query("SELECT pg_read_file('postgresql.conf')")).rejects.toMatchObject({
        code: '42501',
      });
      await expect(c.query('CREATE ROLE intruder SUPERUSER')).rejects.toMatchObject({ code: '42501' });
      await expect(c.query('DROP TABLE users')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await c.end();
    }
  });

  it('applies row-level security policies by role, through the proxy', async () => {
    const app = await connect('app', 'app-pw');
    const reader = await connect('reader', 'reader-pw');
    const ops = await connect('ops', 'ops-pw');
    try {
      const ids = async (c: pg.Client) =>
        (await c.query('SELECT id FROM notes ORDER BY id')).rows.map((r) => r.id as number);
      expect(await ids(app)).toEqual([1, 3]);
      expect(await ids(reader)).toEqual([2]);
      // The service identity is the superuser, which RLS does not restrict: it sees every row.
      expect(await ids(ops)).toEqual([1, 2, 3]);
      expect((await ops.query('SELECT current_user AS u')).rows[0].u).toBe('postgres');
    } finally {
      await Promise.all([app.end(), reader.end(), ops.end()]);
    }
  });

  it('logs in with the SCRAM keys the client proved when the config holds only a verifier', async () => {
    const sql = postgres({
      host: '127.0.0.1',
      port: fx.port,
      user: 'reader',
      password: 'reader-pw',
      database: 'shardgate',
      max: 1,
    });
    try {
      const rows = await sql`SELECT current_user AS u`;
      expect(rows[0]).toMatchObject({ u: 'reader' });
      // Both shards accepted the keys (a scatter count touches both).
      const counted = await sql`SELECT count(*)::int AS n FROM users`;
      expect(counted[0]?.n).toBe(50);
    } finally {
      await sql.end();
    }
  });

  it('keeps a pool per (user, database) on each server', async () => {
    const server = fx.proxy.topology.server('s0-primary')!;
    const identities = server.pools.all().map((p) => `${p.address.user}/${p.address.database}`);
    expect(identities).toEqual(
      expect.arrayContaining(['postgres/shardgate', 'app/shardgate', 'reader/shardgate']),
    );
  });

  it('refuses a wrong password with 28P01, and a role the server refuses with 28000', async () => {
    expect(await loginError('app', 'wrong')).toMatchObject({ code: '28P01' });
    expect(await loginError('nobody', 'x')).toMatchObject({ code: '28P01' });
    const refused = await loginError('broken', 'broken-pw');
    expect(refused.code).toBe('28000');
    expect(refused.message).toContain('refused the login of role "app"');
    // The refusal is the user's configuration: the server stays in rotation for everybody else.
    const c = await connect('app', 'app-pw');
    expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await c.end();
  });
});

describe('auth_query: users the config does not list', () => {
  it('logs in with the verifier the server holds and reaches the servers as that role', async () => {
    const c = await connect('looked', 'looked-pw');
    try {
      expect((await c.query('SELECT current_user AS u')).rows[0].u).toBe('looked');
      expect(Number((await c.query('SELECT count(*) AS n FROM users')).rows[0].n)).toBe(50);
      await expect(c.query('DELETE FROM users WHERE user_id = 1')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await c.end();
    }
    expect(await loginError('looked', 'wrong')).toMatchObject({ code: '28P01' });
  });
});

describe('databases: client-visible names mapped to backend databases', () => {
  it('serves the mapped database and refuses names it does not list', async () => {
    const c = await connect('ops', 'ops-pw', 'tenantb');
    try {
      expect((await c.query('SELECT current_database() AS d')).rows[0].d).toBe('tenant_b');
    } finally {
      await c.end();
    }
    const d = await connect('ops', 'ops-pw', 'shardgate');
    expect((await d.query('SELECT current_database() AS d')).rows[0].d).toBe('shardgate');
    await d.end();
    expect(await loginError('ops', 'ops-pw', 'elsewhere')).toMatchObject({ code: '3D000' });
  });
});
