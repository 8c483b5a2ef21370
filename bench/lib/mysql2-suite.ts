// mysql2's own integration tests (test/integration, run by its runner poku) against one
// launcher-started MariaDB directly and through shardgate's MySQL front end in session and
// transaction pooling (issue 13). Nothing of the suite is kept in this repository.
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { startMariadbCluster } from '../../src/local/mariadb-cluster.js';
import { freePort } from '../../src/local/postgres-cluster.js';
import { silentLogger } from '../../src/log.js';
import { startProxy } from '../../src/proxy.js';
import { checkout, runSuiteProcess, type SuiteResult } from './suite-process.js';

/** What its test files import beyond mysql2's own dependencies (none of its build and lint tools). */
const TEST_DEPS = ['poku@4', 'tsx@4', 'assert-diff@3', 'error-stack-parser@2', 'portfinder@1'];

/** A copy of the checkout with its dependencies and the few its tests use. */
function prepareMysql2(source: string): string {
  const dir = checkout(source, 'node-mysql2');
  const pkgFile = path.join(dir, 'package.json');
  const manifest = JSON.parse(readFileSync(pkgFile, 'utf8')) as Record<string, unknown>;
  manifest.devDependencies = {};
  writeFileSync(pkgFile, JSON.stringify(manifest, null, 2));
  execFileSync('npm', ['install', '--no-package-lock', '--no-audit', '--no-fund', ...TEST_DEPS], {
    cwd: dir,
    stdio: 'inherit',
  });
  return dir;
}

/** The suite's integration test files, sorted; with `pick`, those whose path contains one of them. */
function testFiles(dir: string, pick: string[] | null): string[] {
  return execFileSync('find', ['test/integration', '-name', '*.test.mts'], { cwd: dir, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && (pick === null || pick.some((p) => f.includes(p))))
    .sort();
}

/**
 * Each file alone under poku, a few at a time, each with a time limit: a file that hangs fails
 * by itself (over the whole directory, poku stops reporting at the first one that hangs).
 */
async function runFiles(
  dir: string,
  env: Record<string, string>,
  logFile: string,
  pick: string[] | null,
): Promise<{ passed: string[]; failed: string[] }> {
  const files = testFiles(dir, pick);
  const passed: string[] = [];
  const failed: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++]!;
      const { code, out } = await runSuiteProcess(
        path.join(dir, 'node_modules', '.bin', 'poku'),
        ['--reporter=compact', file],
        dir,
        env,
        120_000,
      );
      appendFileSync(logFile, `\n===== ${file} (exit ${code})\n${out}`);
      (code === 0 ? passed : failed).push(file);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return { passed, failed: failed.sort() };
}

/**
 * root's password on every target. mysql2's CI has a root without one, which a wrong password
 * (test-error-events: 'lol') cannot log in as; shardgate only lets a user without a password in
 * with `auth: trust`, which takes any password. So root has one everywhere (the suite reads it
 * from MYSQL_PASSWORD when CI is set) and shardgate checks it as the server does.
 */
const ROOT_PASSWORD = 'sg-suite-root';

/**
 * Runs the suite against each chosen target (names containing direct, session, transaction).
 * `root` (with ROOT_PASSWORD), database `test`, as its CI has it.
 */
export async function runMysql2Suites(
  source: string,
  only: string[],
  logDir: string,
  /** mysql2files=a,b: only the test files whose path contains one of these. */
  pick: string[] | null = null,
): Promise<SuiteResult[]> {
  const dir = prepareMysql2(source);
  const cluster = await startMariadbCluster({ shards: 1, replicasPerShard: 0, database: 'test' });
  const server = cluster.shards[0]!.primary;
  // The launcher's root has no password on the host names the suite logs in from over TCP (one
  // connection: a new one would need the password already).
  const admin = await cluster.connect(server.name);
  for (const host of ['localhost', '127.0.0.1', '::1'])
    await admin.query('ALTER USER IF EXISTS ?@? IDENTIFIED BY ?', ['root', host, ROOT_PASSWORD]);
  await admin.end();
  const proxies: Array<{ close(): Promise<void> }> = [];
  const results: SuiteResult[] = [];
  try {
    const targets = [{ name: 'MariaDB direct', port: server.port }];
    // The PostgreSQL side is not used: it points at a closed port.
    const closedPort = await freePort();
    for (const mode of ['session', 'transaction'] as const) {
      const config = parseConfig({
        listen: {
          postgres: { host: '127.0.0.1', port: 0 },
          mysql: { host: '127.0.0.1', port: 0 },
          admin: { host: '127.0.0.1', port: 0 },
        },
        users: [{ name: 'root', password: ROOT_PASSWORD, mysqlAuth: 'mysql_native_password' }],
        backend: { mysqlUser: 'root', mysqlPassword: ROOT_PASSWORD, mysqlDatabase: 'test' },
        pool: { mode, size: 40 },
        observability: { enabled: false },
        shards: [{ name: 'pg0', primary: { host: '127.0.0.1', port: closedPort } }],
        mysqlShards: [{ name: 's0', protocol: 'mysql', primary: { host: server.host, port: server.port } }],
      });
      const proxy = await startProxy(config, {
        log: silentLogger(),
        postgresPort: 0,
        mysqlPort: 0,
        adminPort: null,
      });
      proxies.push(proxy);
      if (!proxy.mysql) throw new Error('the MySQL front end did not start');
      targets.push({ name: `shardgate ${mode}`, port: proxy.mysql.port });
    }
    for (const t of targets.filter((t) => only.some((o) => t.name.includes(o)))) {
      const report = await runFiles(
        dir,
        {
          MYSQL_HOST: '127.0.0.1',
          MYSQL_PORT: String(t.port),
          MYSQL_USER: 'root',
          MYSQL_PASSWORD: ROOT_PASSWORD,
          MYSQL_DATABASE: 'test',
          CI: 'true',
        },
        path.join(logDir, `mysql2 ${t.name}.log`),
        pick,
      );
      results.push({ target: t.name, passed: report.passed.length, failed: report.failed });
      console.log(
        `mysql2 ${t.name}: ${report.passed.length} files passed; failing: ${report.failed.join(' ')}`,
      );
    }
    return results;
  } finally {
    for (const p of proxies) await p.close();
    await cluster.stop();
  }
}
