// COPY ... FROM STDIN into tables on several shards (src/protocol/postgres/copy-in-runner.ts),
// through psql as users send it: rows split by shard key land on the shard that key maps to,
// a reference table's rows on every shard, `COPY n` counts them all; a row without its key,
// malformed input, a refusal by one shard or CopyFail leaves nothing copied anywhere.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgToolPath } from '../../src/local/pg-binaries.js';
import { startReferenceDatabase } from '../support/pg-reference-db.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';
import { waitFor } from '../support/wait-for.js';

const run = promisify(execFile);
let fx: ProxyFixture;
let client: pg.Client;
let reference: pg.Client;

beforeAll(async () => {
  fx = await startProxyFixture({ shards: 3, replicas: 0 });
  client = await fx.client();
  reference = await startReferenceDatabase(fx);
}, 180_000);

afterAll(async () => {
  await reference?.end();
  await client?.end();
  await fx?.stop();
});

/** Runs psql with `sql`, `input` on stdin; resolves with stdout, or rejects with stderr. */
async function psql(sql: string, input?: string, url = fx.url()): Promise<string> {
  const bin = await pgToolPath('psql');
  const child = run(bin, ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql, url], {
    env: { ...process.env, PGCONNECT_TIMEOUT: '5' },
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  child.child.stdin?.end(input ?? '');
  const { stdout } = await child;
  return stdout.trim();
}

async function psqlError(sql: string, input: string): Promise<string> {
  return psql(sql, input).then(
    (out) => `no error: ${out}`,
    (err: { stderr: string }) => err.stderr,
  );
}

/** Rows of `table` per shard, straight from each primary. */
async function perShard(sql: string): Promise<string[][]> {
  const out: string[][] = [];
  for (const shard of fx.cluster.shards) {
    const direct = await fx.direct(shard.primary.name);
    try {
      out.push((await direct.query({ text: sql, rowMode: 'array' })).rows.map((r) => r.join('|')));
    } finally {
      await direct.end();
    }
  }
  return out;
}

/** Every row lives where the proxy routes its key: a key lookup through the proxy finds it. */
async function expectRouted(table: string, ids: number[]): Promise<void> {
  const rows = await perShard(`SELECT id, user_id FROM ${table} WHERE id >= ${Math.min(...ids)}`);
  const found = rows.flat().map((r) => Number(r.split('|')[0]));
  expect(found.sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
  // Several shards got rows, and each row is found on the key's shard by a one-shard lookup.
  expect(rows.filter((r) => r.length > 0).length).toBeGreaterThan(1);
  for (const line of rows.flat().slice(0, 40)) {
    const [id, userId] = line.split('|');
    const r = await client.query(`SELECT id FROM ${table} WHERE user_id = $1 AND id = $2`, [userId, id]);
    expect(r.rowCount).toBe(1);
  }
}

describe('COPY FROM STDIN into a sharded table', () => {
  it('splits text-format rows by shard key and answers with the total', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => 500_000 + i);
    const data = ids.map((id) => `${id}\t${id % 97}\tcopy\\tname ${id}\n`).join('');
    expect(await psql('COPY users (id, user_id, name) FROM STDIN', data)).toBe('COPY 300');
    await expectRouted('users', ids);
    const named = await client.query(
      `SELECT name FROM users WHERE user_id = ${500_003 % 97} AND id = 500003`,
    );
    expect(named.rows).toEqual([{ name: 'copy\tname 500003' }]);
  });

  it('reads CSV with HEADER, DELIMITER, NULL and QUOTE as PostgreSQL does', async () => {
    const data = [
      'the_id;the_key;the_title;the_body',
      "510001;5;'a; quoted title';'NA'",
      "510002;6;'two\nlines';'it''s'",
      '510003;7;plain;body',
      '510004;8;;x',
    ].join('\r\n');
    const out = await psql(
      "COPY posts (id, user_id, title, body) FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'NA', QUOTE '''')",
      `${data}\r\n`,
    );
    expect(out).toBe('COPY 4');
    const r = await client.query({
      text: 'SELECT id, title, body FROM posts WHERE id BETWEEN 510001 AND 510004 ORDER BY id',
      rowMode: 'array',
    });
    expect(r.rows).toEqual([
      // NULL 'NA' makes only an unquoted NA null (every column here is NOT NULL).
      ['510001', 'a; quoted title', 'NA'],
      ['510002', 'two\nlines', "it's"],
      ['510003', 'plain', 'body'],
      ['510004', '', 'x'],
    ]);
    await expectRouted('posts', [510001, 510002, 510003, 510004]);
  });

  it('finds the key among all columns when the COPY names none', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => 520_000 + i);
    const data = ids.map((id) => `${id}\t${id % 13}\t${id % 5}\tbody\t2026-01-01 00:00:00+00\n`).join('');
    expect(await psql('COPY comments FROM STDIN', `${data}\\.\n`)).toBe('COPY 40');
    await expectRouted('comments', ids);
  });

  it('streams a large input in bounded batches', async () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => 600_000 + i);
    const data = ids.map((id) => `${id}\t${id % 1000}\t7\n`).join('');
    expect(await psql('COPY likes (id, user_id, post_id) FROM STDIN (FORMAT text)', data)).toBe('COPY 20000');
    const counts = await perShard('SELECT count(*) FROM likes WHERE id >= 600000');
    expect(counts.flat().reduce((n, c) => n + Number(c), 0)).toBe(20_000);
  });

  it('sends a reference table every row on every shard', async () => {
    expect(await psql('COPY trending_topics (id, topic) FROM STDIN', '900\tcopied\n901\talso\n')).toBe(
      'COPY 2',
    );
    const rows = await perShard('SELECT id, topic FROM trending_topics WHERE id >= 900 ORDER BY id');
    for (const shard of rows) expect(shard).toEqual(['900|copied', '901|also']);
  });
});

describe('what cannot be copied leaves nothing copied, with a coded error', () => {
  const countAll = async () =>
    (await perShard('SELECT count(*) FROM balances')).flat().reduce((n, c) => n + Number(c), 0);

  // Rows for several shards come first: what they received is rolled back too.
  const first = [2, 3, 4, 5, 6, 7].map((k) => `${700_100 + k}\t${k}\t1\n`).join('');
  it.each([
    ['a NULL key', `${first}700001\t1\t5\n700002\t\\N\t6\n`, /23502|shard key user_id/],
    ['a row without the key column', '700001\t1\t5\n700002\n', /shard key user_id/],
    ['a key that is not an integer', '700001\t1\t5\n700002\tabc\t6\n', /maps to no shard/],
    ['a duplicate primary key on one shard', `${first}700001\t1\t5\n700001\t1\t6\n`, /duplicate key/],
    ['a value the server rejects', `${first}700001\t1\t5\n700002\t2\tnot-a-number\n`, /invalid input syntax/],
    ['a CSV quote left open', `${first}700001\t1\t5\n`, /unterminated CSV/, "(FORMAT csv, DELIMITER E'\\t')"],
  ])('%s', async (_name, input, pattern, options = '') => {
    const before = await countAll();
    const text = options ? `${input}700009\t9\t"open\n` : input;
    const err = await psqlError(`COPY balances (id, user_id, balance) FROM STDIN ${options}`, text);
    expect(err).toMatch(pattern);
    expect(await countAll()).toBe(before);
    expect((await client.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  });

  it('refuses a row split across a carriage-return line end', async () => {
    const err = await psqlError(
      'COPY balances (id, user_id, balance) FROM STDIN',
      '700001\t1\t5\r700002\t2\t6\n',
    );
    expect(err).toMatch(/carriage return/);
  });

  it('refuses a column list without the shard key', async () => {
    const err = await psqlError('COPY balances (id, balance) FROM STDIN', '700001\t5\n');
    expect(err).toMatch(/shard key user_id.*column list/);
  });

  it('refuses the binary format with 0A000', async () => {
    const err = await client.query('COPY balances FROM STDIN (FORMAT binary)').then(
      () => null,
      (e: pg.DatabaseError) => e,
    );
    expect(err).toMatchObject({ code: '0A000' });
    expect(err?.message).toMatch(/binary/);
  });

  // The client is killed at two moments: once every shard runs the COPY (the runner may or may not
  // be reading the client's rows yet), and while one shard's COPY waits for a lock (the runner
  // awaits that shard's answer, with no one left to send CopyDone or CopyFail).
  it.each([
    ['mid-COPY', false],
    ['before every shard started its COPY', true],
  ])(
    'a client that goes away %s: nothing copied, every connection back in its pool',
    async (_when, lockOne) => {
      const pools = () => fx.proxy.topology.allServers().flatMap((s) => s.pools.all());
      const active = () => pools().reduce((n, p) => n + p.stats().active, 0);
      const sessions = () => fx.proxy.postgres.listener.sessions.size;
      const servers = await Promise.all(fx.cluster.shards.map((s) => fx.direct(s.primary.name)));
      const locker = lockOne ? await fx.direct(fx.cluster.shards[0]!.primary.name) : null;
      try {
        await waitFor('idle pools', () => active() === 0, 10_000);
        const sessionsBefore = sessions();
        if (locker) await locker.query('BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
        const bin = await pgToolPath('psql');
        const child = spawn(bin, ['-X', '-c', 'COPY users (id, user_id, name) FROM STDIN', fx.url()], {
          stdio: ['pipe', 'ignore', 'ignore'],
        });
        const exited = new Promise((r) => child.once('exit', r));
        const ids = Array.from({ length: 200 }, (_, i) => 700_000 + i);
        child.stdin.write(ids.map((id) => `${id}\t${id % 97}\tgone\n`).join(''));
        // The backend running the COPY on each shard (on the locked one: waiting for the lock).
        const copyBackend = async (c: pg.Client) =>
          (
            await c.query(
              "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY users (id, user_id, name) FROM STDIN%' AND pid <> pg_backend_pid()",
            )
          ).rows.map((r: { pid: number }) => r.pid);
        let pids: number[][] = [];
        await waitFor(
          'the COPY on every shard',
          async () => {
            pids = await Promise.all(servers.map(copyBackend));
            return pids.every((p) => p.length === 1);
          },
          10_000,
        );
        child.kill('SIGKILL');
        await exited;
        await waitFor('the session gone', () => sessions() === sessionsBefore, 10_000);
        await locker?.query('COMMIT');
        // Given back, not dropped: each backend that ran the COPY is still connected, and idle (its
        // transaction rolled back), while the pools hold nothing checked out.
        const backIdle = async () => {
          if (active() !== 0) return false;
          const states = await Promise.all(
            servers.map(async (c, i) =>
              (await c.query('SELECT state FROM pg_stat_activity WHERE pid = $1', [pids[i]![0]])).rows.map(
                (r: { state: string }) => r.state,
              ),
            ),
          );
          return states.every((s) => s.length === 1 && s[0] === 'idle');
        };
        await waitFor('connections back in their pools', backIdle, 10_000);
      } finally {
        await locker?.end();
        await Promise.all(servers.map((c) => c.end()));
      }
      expect((await perShard('SELECT id FROM users WHERE id >= 700000 AND id < 700200')).flat()).toEqual([]);
      expect(await psql('COPY users (id, user_id, name) FROM STDIN', '700201\t3\tafter\n')).toBe('COPY 1');
      await client.query('DELETE FROM users WHERE user_id = 3 AND id = 700201');
    },
  );

  it('inside a transaction follows the cross-shard rule (refused, the transaction goes on)', async () => {
    await client.query('BEGIN');
    try {
      const err = await client.query('COPY balances FROM STDIN').then(
        () => null,
        (e: pg.DatabaseError) => e,
      );
      expect(err).toMatchObject({ code: '0A000' });
    } finally {
      await client.query('ROLLBACK');
    }
  });
});

describe('COPY (query) TO STDOUT over several shards writes the merged query', () => {
  const QUERIES = [
    'COPY (SELECT id, name, email FROM users WHERE id < 500000 ORDER BY id) TO STDOUT',
    'COPY (SELECT user_id, count(*), avg(amount) FROM payments GROUP BY user_id ORDER BY user_id) TO STDOUT (FORMAT csv, HEADER)',
    "COPY (SELECT id, title || ';x', body FROM posts WHERE id < 500000 ORDER BY id LIMIT 20) TO STDOUT (FORMAT csv, DELIMITER ';', QUOTE '''', NULL 'NA')",
    "COPY (SELECT id, NULLIF(name, 'user3') AS n, name || E'\\t\\\\' AS odd FROM users WHERE id < 500000 ORDER BY id) TO STDOUT WITH NULL 'nil'",
    // A bare \. is quoted in CSV only as the single column (elsewhere it cannot end the data).
    "COPY (SELECT id, '\\.' AS dot FROM users WHERE id < 500000 ORDER BY id LIMIT 3) TO STDOUT (FORMAT csv)",
    "COPY (SELECT '\\.' AS dot FROM users WHERE id < 500000 LIMIT 3) TO STDOUT (FORMAT csv, HEADER)",
  ];
  for (const sql of QUERIES) {
    it(sql, async () => {
      const primary = fx.cluster.shards[0]!.primary;
      const want = await psql(
        sql,
        undefined,
        `postgres://postgres@${primary.host}:${primary.port}/reference`,
      );
      const got = await psql(sql, undefined);
      expect(got).toBe(want);
      expect(got.split('\n').length).toBeGreaterThan(1);
    });
  }

  it('refuses the binary format and a cross-shard join inside, with 0A000', async () => {
    expect(await psqlError('COPY (SELECT id FROM users) TO STDOUT (FORMAT binary)', '')).toMatch(/binary/);
    const join = 'COPY (SELECT count(*) FROM users u JOIN posts p ON p.id = u.id) TO STDOUT';
    expect(await psqlError(join, '')).toMatch(/cross-shard join over posts cannot run at the proxy/);
  });

  it('refuses options it does not write (FORCE_QUOTE) and combinations PostgreSQL refuses, with 0A000', async () => {
    const q = 'COPY (SELECT id, name FROM users ORDER BY id) TO STDOUT';
    expect(await psqlError(`${q} (FORMAT csv, FORCE_QUOTE *)`, '')).toMatch(
      /FORCE_QUOTE over several shards/,
    );
    expect(await psqlError(`${q} (QUOTE '''')`, '')).toMatch(/QUOTE or ESCAPE outside CSV mode/);
    expect(await psqlError(`${q} (FORMAT csv, DELIMITER '|', NULL 'a|b')`, '')).toMatch(
      /DELIMITER inside the NULL/,
    );
    expect(await psqlError(`${q} (DELIMITER 'x')`, '')).toMatch(/DELIMITER 'x' in text format/);
  });
});
