// The shared control plane against real servers: a 3-member etcd cluster, 3 `shardgate start
// --control etcd://...` processes over one PostgreSQL topology. A rule changed through one
// instance's admin API is in force on all three (writes refused / accepted through each one's
// PostgreSQL port), with the propagation time printed; drains and levels travel the same way;
// /api/cluster of every instance lists the three members; a SIGKILLed instance leaves the list
// when its lease ends; an instance started later begins with the rules already in force. The
// embedded default (no etcd) keeps today's behaviour and reports itself as the only member.
// (Splits with several instances: control-plane-fenced-cutover.test.ts.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { loadDemoData } from '../../src/local/demo-data.js';
import { EtcdCluster } from '../../src/local/etcd-cluster.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import { type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { silentLogger } from '../../src/log.js';
import { startProxy } from '../../src/proxy.js';
import { keyspaceIdFor } from '../../src/router/sharding/hash.js';
import { appPgClient } from '../support/child-clients.js';
import { type StartedProcess, startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

const HEADERS = { authorization: 'Bearer test-token', 'content-type': 'application/json' };

interface RulesView {
  dataTypes: Record<string, { level: string }>;
  drained: string[];
  readOnlyShards: string[];
  topologyVersion: number;
}
interface ClusterView {
  control: string;
  self: string;
  members: Array<{ id: string; admin: string | null; version: string; topologyVersion: number }>;
}

async function getJson<T>(adminPort: number, path: string): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${adminPort}${path}`, { headers: HEADERS });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

async function postRule(adminPort: number, change: object): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${adminPort}/api/rules`, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify(change),
  });
  if (r.status !== 200) throw new Error(`rule change: ${r.status} ${await r.text()}`);
}

/** When `inst` logged a shared rule `action` applied at or after `after` (epoch ms), else null. */
function appliedAt(inst: StartedProcess, action: string, after: number): number | null {
  for (const line of inst.output().split('\n')) {
    if (!line.includes('shared routing rule applied')) continue;
    try {
      const entry = JSON.parse(line) as { time?: string; change?: { action?: string } };
      const at = Date.parse(entry.time ?? '');
      if (entry.change?.action === action && at >= after) return at;
    } catch {
      // a line cut by the pipe: the next poll sees it whole
    }
  }
  return null;
}

/** The first user_id whose keyspace id falls in shard s0's range ("-80"). */
function keyOnS0(): number {
  for (let k = 1; ; k++) if ((keyspaceIdFor(String(k), 'int') ?? 0n) < 1n << 63n) return k;
}

/** A write to s0 through one instance: null when it succeeded, else its SQLSTATE. */
async function writeS0(port: number, key: number): Promise<string | null> {
  const client = await appPgClient(port);
  try {
    await client.query('UPDATE balances SET balance = balance WHERE user_id = $1', [key]);
    return null;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('control plane on etcd: 3 instances, 3-member etcd', () => {
  let cluster: PostgresCluster;
  let etcd: EtcdCluster;
  let config: ShardgateConfig;
  const instances: StartedProcess[] = [];
  const start = (id: string) =>
    startShardgateProcess(config, 60_000, {}, ['--control', etcd.url, '--instance-id', id]);

  beforeAll(async () => {
    [cluster, etcd] = await Promise.all([
      startPostgresCluster({ shards: 2, replicasPerShard: 1, database: 'shardgate' }),
      EtcdCluster.start({ members: 3 }),
    ]);
    config = configForLocalShards(
      cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
      {
        database: 'shardgate',
        overrides: {
          admin: { token: 'test-token' },
          users: [{ name: 'app', password: 'app', auth: 'scram-sha-256', backend: 'service' }],
          listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
          observability: { history: { enabled: false } },
        },
      },
    );
    await loadDemoData(config, { users: 20 });
    instances.push(...(await Promise.all(['sg0', 'sg1', 'sg2'].map(start))));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await etcd?.stop();
    await cluster?.stop();
  });

  it('lists the three members on every instance, with admin address and version', async () => {
    for (const inst of instances) {
      await waitFor(
        'three members',
        async () => (await getJson<ClusterView>(inst.adminPort, '/api/cluster')).members.length === 3,
      );
      const view = await getJson<ClusterView>(inst.adminPort, '/api/cluster');
      expect(view.control).toBe('etcd');
      expect(view.members.map((m) => m.id)).toEqual(['sg0', 'sg1', 'sg2']);
      expect(view.members.map((m) => m.admin)).toEqual(
        instances.map((i) => `http://127.0.0.1:${i.adminPort}`),
      );
      for (const m of view.members) expect(m.version).toMatch(/^\d+\.\d+\.\d+/);
    }
  });

  it('a shard made read-only through one instance refuses writes on all three, and takes them again', async () => {
    const key = keyOnS0();
    for (const inst of instances) expect(await writeS0(inst.postgresPort, key)).toBeNull();
    // Rounds alternate read-only / read-write, each made through the next instance. The figure is
    // the time from the POST until each instance logged the rule applied (its own clock stamp:
    // polling the three admin APIs in a tight loop would load the cores it measures).
    const rounds: number[][] = [];
    const posts: number[] = [];
    for (let round = 0; round < 6; round++) {
      const readOnly = round % 2 === 0;
      const action = readOnly ? 'read-only' : 'read-write';
      const started = Date.now();
      await postRule(instances[round % 3]!.adminPort, { action, shard: 's0' });
      posts.push(Date.now() - started);
      const reached: number[] = [];
      await Promise.all(
        instances.map(async (inst, i) => {
          await waitFor(
            `s0 ${action} applied on instance ${i}`,
            () => appliedAt(inst, action, started) !== null,
            10_000,
            20,
          );
          reached[i] = appliedAt(inst, action, started)! - started;
          const rules = await getJson<RulesView>(inst.adminPort, '/api/rules');
          expect(rules.readOnlyShards.includes('s0')).toBe(readOnly);
        }),
      );
      rounds.push(reached);
      // In force in each instance's router, not only shown by its API.
      for (const inst of instances)
        expect(await writeS0(inst.postgresPort, key)).toBe(readOnly ? '25006' : null);
    }
    const all = rounds.flat().sort((a, b) => a - b);
    const slowest = rounds.map((r) => Math.max(...r)).sort((a, b) => a - b);
    process.stdout.write(
      `rule propagation (POST to applied, ms clock) over ${rounds.length} changes x 3 instances: median ${all[all.length >> 1]!.toFixed(1)} ms, ` +
        `slowest instance per change: median ${slowest[slowest.length >> 1]!.toFixed(1)} ms, max ${slowest.at(-1)!.toFixed(1)} ms ` +
        `(first change ${Math.max(...rounds[0]!).toFixed(1)} ms); the POST alone: ` +
        `${posts.map((ms) => ms.toFixed(1)).join(', ')} ms\n`,
    );
  });

  it('levels and drains made on different instances converge everywhere, one topology version each', async () => {
    const before = await Promise.all(instances.map((i) => getJson<RulesView>(i.adminPort, '/api/rules')));
    await postRule(instances[2]!.adminPort, { action: 'set-level', dataType: 'user_posts', level: 'strong' });
    await postRule(instances[1]!.adminPort, { action: 'drain', server: 's1-replica1' });
    for (const [i, inst] of instances.entries()) {
      await waitFor(
        `level and drain on instance ${i}`,
        async () => {
          const r = await getJson<RulesView>(inst.adminPort, '/api/rules');
          return r.dataTypes.user_posts?.level === 'strong' && r.drained.includes('s1-replica1');
        },
        10_000,
      );
      // The instance that made the change applied it once, not again when it came back.
      const after = await getJson<RulesView>(inst.adminPort, '/api/rules');
      expect(after.topologyVersion).toBe(before[i]!.topologyVersion + 1);
    }
    await postRule(instances[0]!.adminPort, { action: 'undrain', server: 's1-replica1' });
    for (const inst of instances)
      await waitFor(
        'undrained',
        async () => (await getJson<RulesView>(inst.adminPort, '/api/rules')).drained.length === 0,
        10_000,
      );
  });

  it('a rule naming what the config lacks is refused before it is shared', async () => {
    const r = await fetch(`http://127.0.0.1:${instances[0]!.adminPort}/api/rules`, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ action: 'set-level', dataType: 'no_such_type', level: 'weak' }),
    });
    expect(r.status).toBe(400);
    const late = await getJson<RulesView>(instances[1]!.adminPort, '/api/rules');
    expect(late.dataTypes.no_such_type).toBeUndefined();
  });

  it('an instance started later begins with the shared rules; a SIGKILLed one leaves the member list', async () => {
    const late = await start('sg3');
    instances.push(late);
    const rules = await getJson<RulesView>(late.adminPort, '/api/rules');
    expect(rules.dataTypes.user_posts?.level).toBe('strong');
    await waitFor(
      'four members',
      async () => (await getJson<ClusterView>(instances[0]!.adminPort, '/api/cluster')).members.length === 4,
      10_000,
    );
    instances[2]!.child.kill('SIGKILL');
    await waitFor(
      'sg2 gone from the members after its lease',
      async () => {
        const ids = (await getJson<ClusterView>(instances[0]!.adminPort, '/api/cluster')).members.map(
          (m) => m.id,
        );
        return !ids.includes('sg2') && ids.length === 3;
      },
      15_000,
      50,
    );
    // An orderly stop revokes the lease: gone at once. Asked of sg1, whose cluster view was not
    // read in the last second (sg0's answer above may be reused for 1 s, src/admin/peer-load.ts).
    await late.stop();
    const ids = (await getJson<ClusterView>(instances[1]!.adminPort, '/api/cluster')).members.map(
      (m) => m.id,
    );
    expect(ids).toEqual(['sg0', 'sg1']);
  });

  it('without --control, one instance keeps its rules locally and is its own only member', async () => {
    const proxy = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: 0 });
    try {
      const port = proxy.admin!.port;
      const view = await getJson<ClusterView>(port, '/api/cluster');
      expect(view.control).toBe('embedded');
      expect(view.members.map((m) => m.id)).toEqual([view.self]);
      await postRule(port, { action: 'read-only', shard: 's1' });
      expect((await getJson<RulesView>(port, '/api/rules')).readOnlyShards).toEqual(['s1']);
      // The etcd instances never heard of it.
      expect((await getJson<RulesView>(instances[0]!.adminPort, '/api/rules')).readOnlyShards).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});
