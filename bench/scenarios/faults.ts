// `bench faults`: server faults under a steady load (issue 14). For each fault and pool mode, a
// fresh local shard (a primary and two streaming replicas) behind an in-process shardgate; reader
// sessions run eventual reads and one writer inserts, then the fault is injected: kill -9 of a
// replica, a replica dropping every shardgate connection (pg_terminate_backend), kill -9 of the
// primary. Reported: errors and closed sessions seen by clients, how long after the fault the
// server left rotation (shardgate's own shunnedAt) and the last client error, reads run again.
import pg from 'pg';
import { loadDemoData } from '../../src/local/demo-data.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import { startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { silentLogger } from '../../src/log.js';
import { startProxy } from '../../src/proxy.js';
import { describeLoad, describeMachine, loadSnapshot, machineInfo } from '../lib/machine.js';
import { fileTimestamp, writeResultFiles } from '../lib/report.js';
import { type FaultKind, type FaultRun, faultsReport } from './faults-report.js';

export interface FaultsBenchOptions {
  faults: FaultKind[];
  poolModes: Array<'transaction' | 'session'>;
  readers: number;
  /** Load before the fault and after it, in seconds. */
  beforeSeconds: number;
  afterSeconds: number;
  resultsDir: string | null;
  jsonPath?: string;
  command: string;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The server each fault hits. */
const VICTIM: Record<FaultKind, string> = {
  'replica-kill': 's0-replica1',
  'replica-drop': 's0-replica1',
  'primary-kill': 's0-primary',
};

interface Counts {
  ok: number;
  errors: number;
}

async function runOne(
  fault: FaultKind,
  poolMode: 'transaction' | 'session',
  o: FaultsBenchOptions,
): Promise<FaultRun> {
  const cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 2, database: 'shardgate' });
  const clients: pg.Client[] = [];
  let proxy: Awaited<ReturnType<typeof startProxy>> | null = null;
  try {
    const config = configForLocalShards(
      cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
      {
        database: 'shardgate',
        overrides: {
          users: [{ name: 'bench', password: '', auth: 'trust', backend: 'service' }],
          listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
          pool: { mode: poolMode },
        },
      },
    );
    await loadDemoData(config, { users: 50 });
    for (const r of cluster.shards[0]!.replicas) await cluster.waitForReplay(r.name);
    proxy = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: null });
    const port = proxy.postgres.port;
    let closed = 0;
    for (let i = 0; i <= o.readers; i++) {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'bench', database: 'shardgate' });
      c.on('error', () => undefined);
      c.on('end', () => closed++);
      await c.connect();
      clients.push(c);
    }
    const reads = { before: { ok: 0, errors: 0 } as Counts, after: { ok: 0, errors: 0 } as Counts };
    const writes = { before: { ok: 0, errors: 0 } as Counts, after: { ok: 0, errors: 0 } as Counts };
    const errorSamples = new Map<string, number>();
    let faultAt = 0;
    let lastErrorAt = 0;
    let stop = false;
    const note = (counts: { before: Counts; after: Counts }, err: unknown) => {
      (faultAt ? counts.after : counts.before).errors++;
      if (faultAt) lastErrorAt = Date.now();
      const e = err as { code?: string; message?: string };
      const key = `${e.code ?? '?'} ${String(e.message ?? err).slice(0, 100)}`;
      errorSamples.set(key, (errorSamples.get(key) ?? 0) + 1);
    };
    const readerLoops = clients.slice(1).map(async (c, i) => {
      for (let n = 0; !stop; n++) {
        try {
          await c.query('SELECT count(*)::int AS n FROM likes WHERE user_id = $1', [((i * 7 + n) % 50) + 1]);
          (faultAt ? reads.after : reads.before).ok++;
        } catch (err) {
          note(reads, err);
          await sleep(10);
        }
      }
    });
    const writer = clients[0]!;
    const writerLoop = (async () => {
      for (let id = 50_000_000; !stop; id++) {
        try {
          await writer.query('INSERT INTO likes (id, user_id) VALUES ($1, $2)', [id, (id % 50) + 1]);
          (faultAt ? writes.after : writes.before).ok++;
        } catch (err) {
          note(writes, err);
        }
        await sleep(20);
      }
    })();
    await sleep(o.beforeSeconds * 1000);
    const victim = VICTIM[fault];
    const retriesBefore = proxy.topology.faultCounters.readRetries;
    // The first time the victim leaves rotation (it may be back before the run ends).
    const monitor = proxy.topology.monitor;
    const logShun = monitor.onShunChange;
    let shunnedAt = 0;
    monitor.onShunChange = (server, shunned, reason) => {
      logShun?.(server, shunned, reason);
      if (server === victim && shunned && !shunnedAt) shunnedAt = Date.now();
    };
    faultAt = Date.now();
    if (fault === 'replica-drop') {
      await cluster.query(
        victim,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'shardgate' AND pid <> pg_backend_pid()",
      );
    } else {
      await cluster.killServer(victim);
    }
    await sleep(o.afterSeconds * 1000);
    stop = true;
    await Promise.all([...readerLoops, writerLoop]);
    return {
      fault,
      poolMode,
      victim,
      readers: o.readers,
      reads,
      writes,
      sessionsClosed: closed,
      shunMs: shunnedAt ? Math.max(0, shunnedAt - faultAt) : null,
      lastErrorMs: lastErrorAt ? lastErrorAt - faultAt : 0,
      readsRetried: proxy.topology.faultCounters.readRetries - retriesBefore,
      errorSamples: [...errorSamples].map(([error, count]) => ({ error, count })),
      beforeSeconds: o.beforeSeconds,
      afterSeconds: o.afterSeconds,
    };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await proxy?.close();
    await cluster.stop();
  }
}

export async function runFaultsBench(o: FaultsBenchOptions): Promise<{ ok: boolean }> {
  const startedAt = new Date();
  const machine = await machineInfo();
  const before = loadSnapshot();
  o.log(`bench faults: ${describeMachine(machine)}; ${describeLoad(before)}`);
  const runs: FaultRun[] = [];
  for (const poolMode of o.poolModes) {
    for (const fault of o.faults) {
      o.log(`bench faults: ${fault} in ${poolMode} pooling (${o.readers} readers + 1 writer) ...`);
      runs.push(await runOne(fault, poolMode, o));
    }
  }
  const result = {
    scenario: 'faults' as const,
    schemaVersion: 1 as const,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: o.command,
    machine,
    load: { before, after: loadSnapshot() },
    runs,
  };
  const report = faultsReport(result);
  o.log(report.console);
  if (o.resultsDir) {
    const files = writeResultFiles({
      dir: o.resultsDir,
      scenario: 'faults',
      timestamp: fileTimestamp(startedAt),
      result,
      svg: report.svg,
      markdown: report.markdown,
      jsonPath: o.jsonPath,
    });
    o.log(`bench faults: wrote ${files.json}, ${files.latestJson}, ${files.svg}, ${files.markdown}`);
  }
  // The goal of transaction pooling: no read error and no closed session, whatever server failed.
  const ok = runs.every(
    (r) => r.poolMode !== 'transaction' || (r.reads.after.errors === 0 && r.sessionsClosed === 0),
  );
  return { ok };
}
