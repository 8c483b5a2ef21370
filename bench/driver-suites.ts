// The drivers' own integration suites, unchanged, against one launcher-started PostgreSQL server
// directly and through shardgate in session and transaction pooling (issue 13). Nothing of the
// suites is kept in this repository: give a checkout, or the script clones one at run time.
// Run: npx vite-node bench/driver-suites.ts -- [postgresjs=<dir|git url>] [nodepg=<dir|git url>]
//   [mysql2=<dir|git url> [mysql2files=<path part>,...]] [only=direct,session,transaction]
//   (mysql2: bench/lib/mysql2-suite.ts)
// Prints per target the tests passed and the names of those that failed (JSON at the end).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { makeScramVerifier } from '../src/auth/scram.js';
import { parseConfig } from '../src/config/load.js';
import { startPostgresCluster } from '../src/local/postgres-cluster.js';
import { silentLogger } from '../src/log.js';
import { startProxy } from '../src/proxy.js';
import { runMysql2Suites } from './lib/mysql2-suite.js';
import {
  checkout,
  runSuiteProcess,
  type SuiteResult,
  sourceCommit,
  type Target,
  timed,
} from './lib/suite-process.js';

const args = new Map(
  process.argv.slice(2).flatMap((a) => {
    const i = a.indexOf('=');
    return i > 0 ? [[a.slice(0, i), a.slice(i + 1)] as [string, string]] : [];
  }),
);

// ------------------------------------------------------------------------------ postgres.js ---

const PGJS_BOOTSTRAP = [
  'DROP DATABASE IF EXISTS postgres_js_test WITH (FORCE)',
  'DROP ROLE IF EXISTS postgres_js_test',
  'CREATE ROLE postgres_js_test LOGIN',
  "SET password_encryption = 'md5'",
  'DROP ROLE IF EXISTS postgres_js_test_md5',
  "CREATE ROLE postgres_js_test_md5 LOGIN PASSWORD 'postgres_js_test_md5'",
  "SET password_encryption = 'scram-sha-256'",
  'DROP ROLE IF EXISTS postgres_js_test_scram',
  "CREATE ROLE postgres_js_test_scram LOGIN PASSWORD 'postgres_js_test_scram'",
  'CREATE DATABASE postgres_js_test OWNER postgres_js_test',
];

async function bootstrapPostgresJs(host: string, port: number): Promise<void> {
  const c = new pg.Client({ host, port, user: 'postgres', database: 'postgres' });
  // The suites terminate backends (pg_terminate_backend, DROP DATABASE ... FORCE): a kill of this
  // idle connection must not end the harness (a query of it would still fail).
  c.on('error', () => undefined);
  await c.connect();
  for (const sql of PGJS_BOOTSTRAP) await c.query(sql);
  await c.end();
}

/** tests/index.js unchanged; its bootstrap (run directly above) and its stop-at-first-failure are not. */
function preparePostgresJs(dir: string): void {
  const bootstrap = path.join(dir, 'tests', 'bootstrap.js');
  const text = readFileSync(bootstrap, 'utf8');
  writeFileSync(bootstrap, text.replace(/^exec\(.*$/gm, ''));
  const runner = path.join(dir, 'tests', 'test.js');
  // Keep going after a failure, and name each passing test (✅ alone does not say which).
  const patched = readFileSync(runner, 'utf8')
    .replace(/failed\s*\?\s*\(ignored\+\+, ignore\)\s*:\s*fn\(\)/, 'fn()')
    .replace("process.stdout.write('✅')", "process.stdout.write('✅ ' + tests[line].name + '\\n')")
    // Its summary stops at the first failure (every() on a callback returning nothing): all of them.
    .replace('Object.values(tests).every((x) => {', 'Object.values(tests).forEach((x) => {');
  writeFileSync(runner, patched);
}

async function runPostgresJs(
  dir: string,
  target: Target,
  host: string,
  directPort: number,
): Promise<SuiteResult> {
  await bootstrapPostgresJs(host, directPort);
  const { out } = await runSuiteProcess(
    process.execPath,
    // A rejection its tests leave unhandled after they passed (the unlisten of "listen and notify
    // with weird name" runs after sql.end() when the notification came late) would end the process
    // and every test after it: it is counted and printed instead.
    ['--unhandled-rejections=warn', 'tests/index.js'],
    dir,
    {
      PGHOST: host,
      PGPORT: String(target.port),
      PGUSER: 'postgres',
      PGPASSWORD: 'postgres',
      PGSOCKET: target.socketDir,
    },
    15 * 60_000,
    path.join(logDir, `postgres.js ${target.name}.log`),
    /⚠️ Not good|🎉/,
  );
  const passedNames = [...out.matchAll(/✅ (.*)/g)].map((m) => m[1]!);
  const failed = [...out.matchAll(/⛔️ (.*) at line/g)].map((m) => m[1]!);
  const unhandledRejections = (out.match(/UnhandledPromiseRejectionWarning/g) ?? []).length;
  return { target: target.name, passed: passedNames.length, failed, passedNames, unhandledRejections };
}

// ---------------------------------------------------------------------------- node-postgres ---

const NODEPG_BOOTSTRAP = [
  'DROP DATABASE IF EXISTS ci_db_test WITH (FORCE)',
  "ALTER ROLE postgres PASSWORD 'postgres'",
  'DROP ROLE IF EXISTS scram_test',
  "SET password_encryption = 'scram-sha-256'",
  "CREATE ROLE scram_test LOGIN PASSWORD 'test4scram'",
  // template0: a session-pooling run keeps a pooled server connection to template1 (gh-130's psql),
  // and CREATE DATABASE from a template in use fails (55006).
  'CREATE DATABASE ci_db_test TEMPLATE template0',
];

async function runNodePostgres(
  dir: string,
  target: Target,
  host: string,
  directPort: number,
): Promise<SuiteResult> {
  const c = new pg.Client({ host, port: directPort, user: 'postgres', database: 'postgres' });
  c.on('error', () => undefined); // as in bootstrapPostgresJs
  await c.connect();
  for (const sql of NODEPG_BOOTSTRAP) await c.query(sql);
  await c.end();
  const pkg = path.join(dir, 'packages', 'pg');
  const files = execFileSync('find', ['test/integration', '-name', '*-tests.js'], {
    cwd: pkg,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean)
    .sort();
  let passed = 0;
  const failed: string[] = [];
  for (const file of files) {
    const { out, code } = await runSuiteProcess(
      process.execPath,
      [file],
      pkg,
      {
        PGHOST: host,
        PGPORT: String(target.port),
        PGUSER: 'postgres',
        PGPASSWORD: 'postgres',
        PGDATABASE: 'ci_db_test',
        PGTESTNOSSL: 'true',
        SCRAM_TEST_PGUSER: 'scram_test',
        SCRAM_TEST_PGPASSWORD: 'test4scram',
      },
      3 * 60_000,
      path.join(logDir, `node-postgres ${target.name}.log`),
    );
    passed += (out.match(/✔/g) ?? []).length;
    // The suite's runner exits non-zero at a file's first failing test.
    if (code !== 0) failed.push(file);
  }
  return { target: target.name, passed, failed };
}

// -------------------------------------------------------------------------------- targets ---

/** Each run's full output, for reading what failed. */
const logDir = mkdtempSync(path.join(os.tmpdir(), 'sg-suite-logs-'));
console.log(`suite output in ${logDir}`);
// only=direct,session,transaction (default all): the targets to run.
const only = (args.get('only') ?? 'direct,session,transaction').split(',');
const results: Record<string, SuiteResult[]> = {};
if (args.get('postgresjs') || args.get('nodepg')) await runPostgresSuites();
const mysql2Source = args.get('mysql2');
const mysql2Files = args.get('mysql2files')?.split(',') ?? null;
if (mysql2Source) results.mysql2 = await runMysql2Suites(mysql2Source, only, logDir, mysql2Files);
console.log(JSON.stringify(results, null, 2));

async function runPostgresSuites(): Promise<void> {
  const cluster = await startPostgresCluster({
    shards: 1,
    replicasPerShard: 0,
    database: 'postgres_js_test',
    settings: { max_prepared_transactions: 100 },
  });
  const server = cluster.shards[0]!.primary;
  const proxies: Array<{ close(): Promise<void> }> = [];
  try {
    const targets: Target[] = [{ name: 'PostgreSQL direct', port: server.port, socketDir: server.dataDir }];
    for (const mode of ['session', 'transaction'] as const) {
      const socketDir = mkdtempSync(path.join(os.tmpdir(), 'sg-suite-sock-'));
      const config = parseConfig({
        listen: {
          postgres: { host: '127.0.0.1', port: 0, socketDir },
          admin: { host: '127.0.0.1', port: 0 },
        },
        // The suites' users, each reaching the server as itself (as the suites' CI sets them up).
        users: [
          { name: 'postgres', password: 'postgres', auth: 'md5' },
          { name: 'postgres_js_test', auth: 'trust' },
          { name: 'postgres_js_test_md5', password: 'postgres_js_test_md5', auth: 'md5' },
          { name: 'postgres_js_test_scram', password: makeScramVerifier('postgres_js_test_scram') },
          { name: 'scram_test', password: 'test4scram' },
        ],
        // shardgate's own connections stay on `postgres`: the suites drop and create their databases.
        backend: { user: 'postgres', database: 'postgres' },
        databases: [
          'postgres',
          { name: 'postgres_js_test', database: 'postgres_js_test' },
          { name: 'ci_db_test', database: 'ci_db_test' },
          // node-postgres gh-130 runs psql against template1.
          { name: 'template1', database: 'template1' },
        ],
        pool: { mode, size: 40 },
        observability: { enabled: false },
        shards: [{ name: 's0', primary: { host: server.host, port: server.port } }],
      });
      const proxy = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: null });
      proxies.push(proxy);
      targets.push({ name: `shardgate ${mode}`, port: proxy.postgres.port, socketDir });
    }
    const chosen = targets.filter((t) => only.some((o) => t.name.includes(o)));
    const pgjs = args.get('postgresjs');
    if (pgjs) {
      console.log(`postgres.js at ${sourceCommit(pgjs)}`);
      const dir = checkout(pgjs, 'postgres');
      preparePostgresJs(dir);
      results['postgres.js'] = [];
      for (const t of chosen) {
        const r = await timed(() => runPostgresJs(dir, t, '127.0.0.1', server.port));
        console.log(
          `postgres.js ${t.name} (${r.window}): ${r.passed} passed; unhandled rejections: ${r.unhandledRejections}; failed: ${r.failed.join(' | ')}`,
        );
        results['postgres.js'].push(r);
      }
    }
    const nodepg = args.get('nodepg');
    if (nodepg) {
      console.log(`node-postgres at ${sourceCommit(nodepg)}`);
      const dir = checkout(nodepg, 'node-postgres');
      // packages/pg alone (out of the monorepo's workspaces), with its published dependencies and
      // the four its integration tests use; none of the devDependencies (wrangler, vitest, ...).
      const standalone = path.join(mkdtempSync(path.join(os.tmpdir(), 'sg-suite-pg-')), 'node-postgres');
      cpSync(path.join(dir, 'packages', 'pg'), path.join(standalone, 'packages', 'pg'), { recursive: true });
      const pkgFile = path.join(standalone, 'packages', 'pg', 'package.json');
      const manifest = JSON.parse(readFileSync(pkgFile, 'utf8')) as Record<string, unknown>;
      manifest.devDependencies = {};
      writeFileSync(pkgFile, JSON.stringify(manifest, null, 2));
      const testDeps = ['async@2.6.4', 'bluebird@3.7.2', 'co@4.6.0', 'pg-copy-streams@0.3.0'];
      execFileSync('npm', ['install', '--no-package-lock', '--no-audit', '--no-fund', ...testDeps], {
        cwd: path.join(standalone, 'packages', 'pg'),
        stdio: 'inherit',
      });
      results['node-postgres'] = [];
      for (const t of chosen) {
        const r = await timed(() => runNodePostgres(standalone, t, '127.0.0.1', server.port));
        console.log(
          `node-postgres ${t.name} (${r.window}): ${r.passed} passed; files failing: ${r.failed.join(' ')}`,
        );
        results['node-postgres'].push(r);
      }
    }
  } finally {
    for (const p of proxies) await p.close();
    await cluster.stop();
  }
}
