// An operator's split with the real CLI against a real `shardgate start` process: the proxy is
// killed (SIGKILL) in the middle of the throttled copy, started again, and `shardgate migrate
// resume` finishes the split from the last checkpoint: no row lost, none copied twice, the moved
// keys served by the new shards, and `migrate cleanup` deletes only the moved rows.
import { describe, expect, it } from 'vitest';
import { countOn as count, sleep } from '../support/migrate-cli-fixture.js';
import { useMigrateCliFixture } from '../support/use-migrate-cli-fixture.js';

const f = useMigrateCliFixture({ spares: ['spare1', 'spare2'], users: 600 });
const migrate = (...args: string[]) => f.migrate(...args);
const status = (id: string) => f.status<{ phase: string; status: string; copy: { rows: number } }>(id);

describe('shardgate migrate with a proxy crash mid-copy', () => {
  it('resumes after SIGKILL from the checkpoint and completes exactly', async () => {
    const dry = await migrate('split', 's0', '--targets', 'spare1,spare2', '--at', '40', '--dry-run');
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('-> s0a -40 on spare1');
    expect(dry.stdout).toMatch(/estimated copy: \d+/);

    const started = await migrate(
      'split',
      's0',
      '--targets',
      'spare1,spare2',
      '--at',
      '40',
      '--verify',
      'full',
      '--no-follow',
    );
    expect(started.status, started.stderr).toBe(0);
    const id = /migration (\S+) started/.exec(started.stdout)![1]!;

    // Kill the proxy once some batches are checkpointed, but before the copy ends.
    let copied = 0;
    for (let i = 0; i < 300 && copied < 300; i++) {
      await sleep(50);
      copied = (await status(id)).copy.rows;
    }
    const before = await status(id);
    expect(before.phase).toBe('copying');
    await f.crashAndRestart();

    const listed = await migrate('status');
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('copying');

    const resumed = await migrate('resume', id);
    expect(resumed.status, `${resumed.stdout}\n${resumed.stderr}`).toBe(0);
    expect(resumed.stdout).toContain(`${id}: verified`);

    // Exactly the source's rows, each on the half that owns it.
    const s0 = f.cluster.shards[0]!.primary.port;
    const [spare1, spare2] = f.cluster.spares;
    for (const table of ['users', 'posts', 'likes']) {
      const total = await count(s0, `SELECT count(*) AS n FROM ${table}`);
      const left = await count(spare1!.port, `SELECT count(*) AS n FROM ${table}`);
      const right = await count(spare2!.port, `SELECT count(*) AS n FROM ${table}`);
      expect(left + right, table).toBe(total);
      // Every row on spare1 belongs to [0, 0x40..): hashint8extended as unsigned, top byte < 0x40.
      const stray = await count(
        spare1!.port,
        `SELECT count(*) AS n FROM ${table} WHERE (hashint8extended(user_id, 0) >> 56) & 255 >= 64`,
      );
      expect(stray, table).toBe(0);
    }

    // The proxy routes to the halves now.
    const c = await f.client();
    const explained = await c.query('SHARDGATE EXPLAIN SELECT * FROM users WHERE user_id = 3');
    expect(JSON.stringify(explained.rows)).toMatch(/s0a|s0b|s1/);
    const users = await c.query('SELECT count(*)::int AS n FROM users');
    expect(users.rows[0].n).toBe(600);
    await c.end();

    const cleaned = await migrate('cleanup', id);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect(await count(f.cluster.shards[0]!.primary.port, 'SELECT count(*) AS n FROM users')).toBe(0);
    expect(await count(f.cluster.shards[1]!.primary.port, 'SELECT count(*) AS n FROM users')).toBeGreaterThan(
      0,
    );
  }, 240_000);
});
