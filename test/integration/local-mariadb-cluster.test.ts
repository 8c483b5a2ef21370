// The local MariaDB launcher: GTID replication per shard, injected lag (MASTER_DELAY and paused
// apply), crash and restart, spares, the MySQL demo schema, and no leftovers after stop().
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultSetHeader } from 'mysql2';
import { describe, expect, it } from 'vitest';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { configForLocalShards, evenKeyRanges } from '../../src/local/local-config.js';
import { findMariadbBinaries } from '../../src/local/mariadb-binaries.js';
import { type MariadbCluster, startMariadbCluster } from '../../src/local/mariadb-cluster.js';
import { openConnection } from '../../src/local/mariadb-replication.js';
import { loadMysqlDemoData } from '../../src/local/mysql-demo-schema.js';
import { shardForValue } from '../../src/router/sharding/resolve.js';
import { useLocalCluster } from '../support/use-local-cluster.js';

function serversUnder(dir: string): number {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`mariadbd --defaults-file=${dir}/`)).length;
}

async function count(c: MariadbCluster, server: string, table: string): Promise<number> {
  const [r] = await c.query<{ n: number }>(server, `SELECT COUNT(*) AS n FROM ${table}`);
  return Number(r?.n);
}

const cluster = useLocalCluster(() => startMariadbCluster({ shards: 2, replicasPerShard: 1 }));

describe('local MariaDB cluster', () => {
  it('gives each server its identity: server_id, a GTID domain per shard, read-only replicas', async () => {
    const rows = await Promise.all(
      cluster.all().map(async (s) => {
        const [r] = await cluster.query<Record<string, unknown>>(
          s.name,
          'SELECT @@server_id AS sid, @@gtid_domain_id AS dom, @@read_only AS ro, @@log_bin AS lb, ' +
            '@@binlog_format AS bf, @@session_track_system_variables AS st, DATABASE() AS db',
        );
        return { ...r, name: s.name } as Record<string, unknown>;
      }),
    );
    expect(new Set(rows.map((r) => r.sid)).size).toBe(4);
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(byName['s0-primary']).toMatchObject({ dom: 1, ro: 0, lb: 1, bf: 'ROW', db: 'shardgate' });
    expect(byName['s0-replica1']).toMatchObject({ dom: 1, ro: 1, db: 'shardgate' });
    expect(byName['s1-primary']).toMatchObject({ dom: 2, ro: 0, db: 'shardgate' });
    expect(byName['s1-replica1']).toMatchObject({ dom: 2, ro: 1, db: 'shardgate' });
    for (const r of rows) expect(String(r.st).split(',')).toContain('last_gtid');
    expect(await cluster.replicaStatus('s0-replica1')).toMatchObject({
      usingGtid: 'Slave_Pos',
      ioRunning: 'Yes',
    });
    for (const s of cluster.all()) expect(s.port).not.toBe(3306);
  });

  it('checks passwords (grant tables are on)', async () => {
    const s = cluster.shards[0]!.primary;
    await expect(
      (async () => {
        const { default: mysql } = await import('mysql2/promise');
        const c = await mysql.createConnection({
          host: s.host,
          port: s.port,
          user: 'root',
          password: 'wrong',
        });
        await c.end();
      })(),
    ).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });
  });

  it('replicates a write by GTID and reports its GTID to the writing session', async () => {
    for (const shard of cluster.shards) {
      const c = await cluster.connect(shard.primary.name);
      try {
        await c.query('CREATE TABLE launcher_t (id INT PRIMARY KEY, v INT NOT NULL)');
        const [res] = await c.query<ResultSetHeader>('INSERT INTO launcher_t VALUES (1, 7)');
        // mysql2 parses session-tracking data from the OK packet but does not declare it in its types.
        const tracked = (
          res as ResultSetHeader & { stateChanges?: { systemVariables?: Record<string, string> } }
        ).stateChanges;
        const lastGtid = String(tracked?.systemVariables?.last_gtid);
        expect(lastGtid).toMatch(
          new RegExp(`^${shard.primary.gtidDomainId}-${shard.primary.serverId}-\\d+$`),
        );
        const replica = shard.replicas[0]!.name;
        await cluster.waitForReplication(replica);
        expect(await cluster.query(replica, 'SELECT id, v FROM launcher_t')).toEqual([{ id: 1, v: 7 }]);
        const [pos] = await cluster.query<{ p: string }>(replica, 'SELECT @@gtid_slave_pos AS p');
        expect(pos?.p.split(',')).toContain(lastGtid);
      } finally {
        await c.end();
      }
    }
  });

  it('lags behind with MASTER_DELAY and catches up once it is removed', async () => {
    await cluster.setReplicaDelay('s1-replica1', 30);
    expect(await cluster.replicaStatus('s1-replica1')).toMatchObject({ sqlDelay: 30 });
    await cluster.query('s1-primary', 'INSERT INTO launcher_t VALUES (2, 8)');
    expect(await count(cluster, 's1-replica1', 'launcher_t')).toBe(1);
    await cluster.setReplicaDelay('s1-replica1', 0);
    await cluster.waitForReplication('s1-replica1');
    expect(await count(cluster, 's1-replica1', 'launcher_t')).toBe(2);
  });

  it('lags for a chosen number of milliseconds by pausing the apply thread', async () => {
    await cluster.pauseReplicaApply('s0-replica1', 60_000);
    expect(await cluster.replicaStatus('s0-replica1')).toMatchObject({ sqlRunning: 'No', ioRunning: 'Yes' });
    await cluster.query('s0-primary', 'INSERT INTO launcher_t VALUES (2, 8)');
    expect(await count(cluster, 's0-replica1', 'launcher_t')).toBe(1);
    await cluster.resumeReplicaApply('s0-replica1');
    await cluster.waitForReplication('s0-replica1');
    expect(await count(cluster, 's0-replica1', 'launcher_t')).toBe(2);
    // A short pause ends by itself: waiting succeeds only once the timer restarted the thread.
    await cluster.pauseReplicaApply('s0-replica1', 200);
    await cluster.query('s0-primary', 'INSERT INTO launcher_t VALUES (3, 9)');
    await cluster.waitForReplication('s0-replica1', 20_000);
    expect(await count(cluster, 's0-replica1', 'launcher_t')).toBe(3);
  });

  it('survives kill -9 of a primary and of a replica; replication resumes', async () => {
    await cluster.killServer('s0-primary');
    await expect(cluster.query('s0-primary', 'SELECT 1')).rejects.toBeTruthy();
    await cluster.restartServer('s0-primary');
    expect(await count(cluster, 's0-primary', 'launcher_t')).toBe(3);
    await cluster.query('s0-primary', 'INSERT INTO launcher_t VALUES (4, 10)');
    await cluster.waitForReplication('s0-replica1', 20_000);
    expect(await count(cluster, 's0-replica1', 'launcher_t')).toBe(4);

    await cluster.killServer('s1-replica1');
    await cluster.query('s1-primary', 'INSERT INTO launcher_t VALUES (3, 9)');
    await cluster.restartServer('s1-replica1');
    await cluster.waitForReplication('s1-replica1', 20_000);
    expect(await count(cluster, 's1-replica1', 'launcher_t')).toBe(3);
  });

  it('starts a spare primary with its own GTID domain', async () => {
    const spare = await cluster.addSpare('spare1');
    const [r] = await cluster.query<{ ro: number; dom: number; db: string }>(
      spare.name,
      'SELECT @@read_only AS ro, @@gtid_domain_id AS dom, DATABASE() AS db',
    );
    expect(r).toEqual({ ro: 0, dom: spare.gtidDomainId, db: 'shardgate' });
    expect(cluster.all().filter((s) => s.gtidDomainId === spare.gtidDomainId)).toEqual([spare]);
    expect(await cluster.query(spare.name, 'SHOW SLAVE STATUS')).toEqual([]);
  });

  it('loads the MySQL demo schema with rows on the shard the router picks', async () => {
    const ranges = evenKeyRanges(cluster.shards.length);
    const mysqlShards = cluster.shards.map((s, i) => ({
      name: s.name,
      keyRange: ranges[i],
      protocol: 'mysql',
      primary: { name: s.primary.name, host: s.primary.host, port: s.primary.port },
      replicas: s.replicas.map((r) => ({ name: r.name, host: r.host, port: r.port })),
    }));
    const config = configForLocalShards(cluster.shards, {
      database: 'shardgate',
      overrides: { mysqlShards },
    });
    const loaded = await loadMysqlDemoData(config, { users: 20 });
    const shardRanges = mysqlShards.map((s) => ({ name: s.name, range: parseKeyRange(s.keyRange!) }));
    const usersTable = config.tables.users!;
    for (const shard of cluster.shards) {
      const ids = await cluster.query<{ id: number }>(shard.primary.name, 'SELECT id FROM users ORDER BY id');
      const expected = Array.from({ length: 20 }, (_, i) => i + 1).filter(
        (u) => shardForValue(usersTable, String(u), shardRanges) === shard.name,
      );
      expect(ids.map((r) => Number(r.id))).toEqual(expected);
      expect(expected.length).toBeGreaterThan(0);
      expect(await count(cluster, shard.primary.name, 'trending_topics')).toBe(8);
      // Defaults fill every other column, as on PostgreSQL.
      await cluster.query(shard.primary.name, 'INSERT INTO sessions (id, user_id) VALUES (?, ?)', [
        900_000 + expected[0]!,
        expected[0],
      ]);
      await cluster.waitForReplication(shard.replicas[0]!.name);
      expect(await count(cluster, shard.replicas[0]!.name, 'users')).toBe(expected.length);
    }
    expect(Object.values(loaded.perShard).reduce((a, b) => a + b, 0)).toBe(loaded.rows - 8 * 2);
  });

  it('stop() ends every server and removes the directory', async () => {
    const dir = cluster.baseDir;
    const port = cluster.shards[0]!.primary.port;
    expect(serversUnder(dir)).toBe(5);
    await cluster.stop();
    expect(serversUnder(dir)).toBe(0);
    expect(existsSync(dir)).toBe(false);
    await expect(openConnection({ name: 'gone', host: '127.0.0.1', port }, null, 1_000)).rejects.toBeTruthy();
  });
});

describe('the watchdog', () => {
  it('ends the servers and removes the directory when the launching process is killed -9', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const scratch = mkdtempSync(join(tmpdir(), 'shardgate-orphan-'));
    const launcher = join(root, 'src/local/mariadb-cluster.ts');
    const script = join(scratch, 'orphan.ts');
    writeFileSync(
      script,
      `import { startMariadbCluster } from ${JSON.stringify(launcher)};\n` +
        'const c = await startMariadbCluster({ shards: 1, replicasPerShard: 0 });\n' +
        'process.stdout.write(`READY ${c.baseDir}\\n`);\nsetInterval(() => undefined, 1_000);\n',
    );
    // vite-node (vitest's own runner) runs the TypeScript launcher in a separate process.
    const viteNode = join(root, 'node_modules/vite-node/vite-node.mjs');
    const child = spawn(process.execPath, [viteNode, script], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const dir = await new Promise<string>((done, fail) => {
        let out = '';
        let err = '';
        const timer = setTimeout(() => fail(new Error(`no cluster in 45 s: ${err.slice(-1000)}`)), 45_000);
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
        });
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /READY (\S+)\n/.exec(out);
          if (m) {
            clearTimeout(timer);
            done(m[1]!);
          }
        });
        child.on('exit', () => fail(new Error(`launcher exited: ${err.slice(-1000)}`)));
      });
      expect(serversUnder(dir)).toBe(1);
      child.kill('SIGKILL');
      const deadline = Date.now() + 20_000;
      while ((serversUnder(dir) > 0 || existsSync(dir)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      expect(serversUnder(dir)).toBe(0);
      expect(existsSync(dir)).toBe(false);
    } finally {
      child.kill('SIGKILL');
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe('MariaDB binaries', () => {
  it('says how to install the server when it is missing', () => {
    const saved = process.env.SHARDGATE_MARIADBD;
    process.env.SHARDGATE_MARIADBD = '/nonexistent/mariadbd';
    try {
      expect(() => findMariadbBinaries()).toThrow(/apt-get install mariadb-server/);
    } finally {
      if (saved === undefined) delete process.env.SHARDGATE_MARIADBD;
      else process.env.SHARDGATE_MARIADBD = saved;
    }
  });
});
