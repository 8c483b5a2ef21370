// Real roles on the MySQL side (issue 13): the same users[].backend rule as the PostgreSQL side.
// A user reaches MariaDB as its own user (the demo loader creates it with DML on the demo
// database only); `backend: service` is the shared backend.mysqlUser, said explicitly.
import type mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const fx = useMysqlProxyFixture(
  {
    shards: 2,
    replicas: 0,
    overrides: {
      users: [
        { name: 'app2', password: 'app2-pw', mysqlAuth: 'mysql_native_password' },
        { name: 'svc', password: 'svc-pw', mysqlAuth: 'mysql_native_password', backend: 'service' },
        {
          name: 'broken',
          password: 'broken-pw',
          mysqlAuth: 'mysql_native_password',
          backend: { user: 'app2', password: 'not-app2s' },
        },
      ],
    },
  },
  240_000,
);

function connect(user: string, password: string): Promise<mysql.Connection> {
  return fx.connect({ user, password });
}

describe('MySQL: a user reaches the servers as its own user', () => {
  it('is its own user on every shard, with the demo grants and nothing more', async () => {
    const c = await connect('app2', 'app2-pw');
    const [who] = await c.query('SELECT CURRENT_USER() AS u');
    expect((who as Array<{ u: string }>)[0]!.u).toBe('app2@%');
    // A scatter read runs on both shards as app2.
    const [count] = await c.query('SELECT count(*) AS n FROM users');
    expect(Number((count as Array<{ n: number }>)[0]!.n)).toBe(50);
    await expect(c.query('SET GLOBAL max_connections = 500')).rejects.toMatchObject({ errno: 1227 });
    await expect(c.query('SELECT user FROM mysql.user')).rejects.toMatchObject({ errno: 1142 });
    await expect(c.query('DROP TABLE users')).rejects.toMatchObject({ errno: 1142 });
  });

  it('keeps the shared service identity for a user configured with backend: service', async () => {
    const c = await connect('svc', 'svc-pw');
    const [who] = await c.query('SELECT CURRENT_USER() AS u');
    expect((who as Array<{ u: string }>)[0]!.u).toMatch(/^root@/);
  });

  it('refuses a wrong password with 1045, and a user the server refuses with 1045 naming it', async () => {
    await expect(connect('app2', 'wrong')).rejects.toMatchObject({ errno: 1045 });
    const broken = await connect('broken', 'broken-pw');
    const err = await broken.query('SELECT 1').then(
      () => null,
      (e: { errno?: number; message: string }) => e,
    );
    expect(err).toMatchObject({ errno: 1045 });
    expect(err?.message).toContain('refused the login of role "app2"');
    // The server stays in rotation for everybody else.
    const c = await connect('app2', 'app2-pw');
    const [rows] = await c.query('SELECT 1 AS one');
    expect((rows as Array<{ one: number }>)[0]!.one).toBe(1);
  });
});
