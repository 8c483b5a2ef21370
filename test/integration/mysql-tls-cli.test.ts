// TLS on the MySQL front end (SSLRequest, then the handshake response over TLS, where
// caching_sha2_password's full authentication sends the clear password), a listener that
// requires TLS refusing plain clients with 3159, and a smoke test with the `mariadb` command-line
// client: login, queries, `use` (COM_INIT_DB) and `status` (COM_STATISTICS).
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { makeThrowawayCa } from '../support/throwaway-ca.js';

const run = promisify(execFile);
let fx: MysqlProxyFixture;
let strict: ProxyHandle;
let dir: string;

beforeAll(async () => {
  // The listener's certificate; the clients here do not verify it.
  const ca = makeThrowawayCa(null);
  dir = ca.dir;
  const cert = ca.serverCert;
  const key = ca.serverKey;
  fx = await startMysqlProxyFixture({
    shards: 1,
    replicas: 0,
    demoUsers: 5,
    overrides: { tls: { cert, key, required: false } },
  });
  strict = await startProxy(
    { ...fx.config, tls: { cert, key, required: true } },
    { log: silentLogger(), postgresPort: 0, mysqlPort: 0, adminPort: null },
  );
});

afterAll(async () => {
  await strict?.close();
  await fx?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('TLS', () => {
  it('serves a client over TLS; its first caching_sha2 login sends the password inside TLS', async () => {
    const c = await fx.connect({ ssl: { rejectUnauthorized: false } });
    const [rows] = await c.query<RowDataPacket[]>('SELECT 1 AS one');
    expect(rows[0]!.one).toBe(1);
    const stream = (c as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream;
    expect(stream.encrypted).toBe(true);
  });

  it('refuses a plain client when TLS is required, with 3159', async () => {
    const port = strict.mysql!.port;
    await expect(
      mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app' }),
    ).rejects.toMatchObject({
      errno: 3159,
    });
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port,
      user: 'app',
      password: 'app',
      ssl: { rejectUnauthorized: false },
    });
    const [rows] = await c.query<RowDataPacket[]>('SELECT 2 AS two');
    expect(rows[0]!.two).toBe(2);
    await c.end();
  });
});

describe('the mariadb command-line client', () => {
  it('logs in, queries, switches database and shows status', async () => {
    const args = [
      '-h',
      '127.0.0.1',
      '-P',
      String(fx.port),
      '-u',
      'native',
      '-pnative-pw',
      '--skip-ssl',
      'shardgate',
    ];
    const { stdout } = await run(
      'mariadb',
      [
        ...args,
        '--batch',
        '-e',
        'SELECT count(*) AS n FROM posts WHERE user_id = 1; use mysql; SELECT DATABASE(); \\s',
      ],
      { timeout: 20_000 },
    );
    expect(stdout).toMatch(/^n\n\d+\n/);
    expect(stdout).toContain('DATABASE()\nmysql');
    expect(stdout).toMatch(/Uptime:/);
    const failed = await run('mariadb', [...args.slice(0, 6), '-pwrong', '--skip-ssl', '-e', 'SELECT 1'], {
      timeout: 20_000,
    }).catch((e: { stderr: string }) => e);
    expect((failed as { stderr: string }).stderr).toMatch(/ERROR 1045/);
  });
});
