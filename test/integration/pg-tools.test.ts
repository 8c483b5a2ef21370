// The command-line clients users run: psql (queries, COPY in and out, LISTEN/NOTIFY) and pgbench
// in simple, extended and prepared modes, in transaction pooling and in session pooling.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgToolPath } from '../../src/local/pg-binaries.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

const run = promisify(execFile);
let fx: ProxyFixture;

beforeAll(async () => {
  fx = await startProxyFixture({ shards: 2, replicas: 0 });
});

afterAll(async () => {
  await fx?.stop();
});

async function psql(sql: string, input?: string): Promise<string> {
  const bin = await pgToolPath('psql');
  const child = run(bin, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql, fx.url()], {
    env: { ...process.env, PGCONNECT_TIMEOUT: '5' },
    timeout: 30_000,
  });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  const { stdout } = await child;
  return stdout.trim();
}

describe('psql', () => {
  it('runs a query', async () => {
    expect(await psql('SELECT name FROM users WHERE user_id = 4')).toBe('user4');
  });

  it('copies rows in and out', async () => {
    await psql('CREATE TABLE IF NOT EXISTS copy_target (a int, b text)');
    await psql('COPY copy_target FROM STDIN', '1\tone\n2\ttwo\n3\tthree\n');
    expect(await psql('SELECT count(*) FROM copy_target')).toBe('3');
    const out = await psql('COPY (SELECT a, b FROM copy_target ORDER BY a) TO STDOUT');
    expect(out.split('\n')).toEqual(['1\tone', '2\ttwo', '3\tthree']);
  });

  it('copies a sharded table out of every shard (one CSV header, every row once)', async () => {
    const out = (await psql('COPY posts (id, user_id) TO STDOUT (FORMAT csv, HEADER)')).split('\n');
    expect(out[0]).toBe('id,user_id');
    const ids: number[] = [];
    for (const shard of fx.cluster.shards) {
      const direct = await fx.direct(shard.primary.name);
      try {
        ids.push(...(await direct.query('SELECT id FROM posts')).rows.map((r) => Number(r.id)));
      } finally {
        await direct.end();
      }
    }
    expect(fx.cluster.shards.length).toBeGreaterThan(1);
    expect(out.filter((l) => l === 'id,user_id')).toHaveLength(1);
    const sort = (xs: number[]) => xs.slice().sort((a, b) => a - b);
    expect(sort(out.slice(1).map((l) => Number(l.split(',')[0])))).toEqual(sort(ids));
  });
});

describe('pgbench', () => {
  async function pgbench(args: string[]): Promise<string> {
    const bin = await pgToolPath('pgbench');
    const { stdout } = await run(bin, args, {
      env: { ...process.env, PGPASSWORD: 'app' },
      timeout: 120_000,
    });
    return stdout;
  }

  it('initializes and runs -S in simple, extended and prepared modes (transaction pooling)', async () => {
    const conn = ['-h', '127.0.0.1', '-p', String(fx.port), '-U', 'app', 'shardgate'];
    await pgbench(['-i', '-s', '1', '-q', ...conn]);
    for (const mode of ['simple', 'extended', 'prepared']) {
      const out = await pgbench(['-S', '-n', '-M', mode, '-c', '4', '-j', '2', '-t', '200', ...conn]);
      expect(out).toMatch(/number of transactions actually processed: 800\/800/);
      expect(out).toMatch(/number of failed transactions: 0/);
    }
  });

  it('runs the TPC-B-like script in prepared mode', async () => {
    const conn = ['-h', '127.0.0.1', '-p', String(fx.port), '-U', 'app', 'shardgate'];
    const out = await pgbench(['-n', '-M', 'prepared', '-c', '4', '-j', '2', '-t', '50', ...conn]);
    expect(out).toMatch(/number of transactions actually processed: 200\/200/);
  });
});
