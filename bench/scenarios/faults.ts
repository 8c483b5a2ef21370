// `bench faults`: server faults under a steady load (issue 14). For each protocol, fault and pool
// mode, a fresh local shard (a primary and two replicas: PostgreSQL streaming, or MariaDB GTID)
// behind an in-process shardgate (faults-targets.ts); reader sessions run eventual reads and one
// writer inserts, then the fault is injected: kill -9 of a replica, a replica dropping every
// shardgate connection (pg_terminate_backend, KILL), kill -9 of the primary. Reported: errors and
// closed sessions seen by clients, how long after the fault the server left rotation (shardgate's
// own shunnedAt) and the last client error, reads run again, and how late the process's event
// loop ran (the proxy shares it with the clients: it bounds how soon a shun can be seen).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describeLoad, describeMachine, loadSnapshot, machineInfo } from '../lib/machine.js';
import { fileTimestamp, writeResultFiles } from '../lib/report.js';
import { type BenchProtocol, type FaultKind, type FaultRun, faultsReport } from './faults-report.js';
import { type BenchClient, mysqlTarget, postgresTarget } from './faults-targets.js';

export interface FaultsBenchOptions {
  faults: FaultKind[];
  poolModes: Array<'transaction' | 'session'>;
  /** Default: PostgreSQL only. */
  protocols?: BenchProtocol[];
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
  protocol: BenchProtocol,
  fault: FaultKind,
  poolMode: 'transaction' | 'session',
  o: FaultsBenchOptions,
): Promise<FaultRun> {
  const target = protocol === 'mysql' ? await mysqlTarget(poolMode) : await postgresTarget(poolMode);
  try {
    let closed = 0;
    const clients: BenchClient[] = [];
    for (let i = 0; i <= o.readers; i++) clients.push(await target.connect(() => closed++));
    const reads = { before: { ok: 0, errors: 0 } as Counts, after: { ok: 0, errors: 0 } as Counts };
    const writes = { before: { ok: 0, errors: 0 } as Counts, after: { ok: 0, errors: 0 } as Counts };
    const errorSamples = new Map<string, number>();
    let faultAt = 0;
    let lastErrorAt = 0;
    let stop = false;
    const note = (counts: { before: Counts; after: Counts }, err: unknown) => {
      (faultAt ? counts.after : counts.before).errors++;
      if (faultAt) lastErrorAt = Date.now();
      const e = err as { code?: string; errno?: number; message?: string };
      const key = `${e.code ?? e.errno ?? '?'} ${String(e.message ?? err).slice(0, 100)}`;
      errorSamples.set(key, (errorSamples.get(key) ?? 0) + 1);
    };
    const readerLoops = clients.slice(1).map(async (c, i) => {
      for (let n = 0; !stop; n++) {
        try {
          await c.read(((i * 7 + n) % 50) + 1);
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
          await writer.write(id, (id % 50) + 1);
          (faultAt ? writes.after : writes.before).ok++;
        } catch (err) {
          note(writes, err);
        }
        await sleep(20);
      }
    })();
    await sleep(o.beforeSeconds * 1000);
    const victim = VICTIM[fault];
    const retriesBefore = target.topology.faultCounters.readRetries;
    // The first time the victim leaves rotation (it may be back before the run ends).
    const monitor = target.topology.monitor;
    const logShun = monitor.onShunChange;
    let shunnedAt = 0;
    monitor.onShunChange = (server, shunned, reason) => {
      logShun?.(server, shunned, reason);
      if (server === victim && shunned && !shunnedAt) shunnedAt = Date.now();
    };
    // How late this process's event loop ran around the fault: the proxy, its clients and the
    // measurement share it, so a shun can be seen no sooner than the loop gets to run.
    let victimClosedAt = 0;
    if (fault !== 'replica-drop')
      await target.watchVictim(victim, () => {
        victimClosedAt ||= Date.now();
      });
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    faultAt = Date.now();
    await target.inject(fault, victim);
    await sleep(o.afterSeconds * 1000);
    loopDelay.disable();
    stop = true;
    await Promise.all([...readerLoops, writerLoop]);
    return {
      protocol,
      fault,
      poolMode,
      victim,
      readers: o.readers,
      reads,
      writes,
      sessionsClosed: closed,
      shunMs: shunnedAt ? Math.max(0, shunnedAt - faultAt) : null,
      victimCloseSeenMs: victimClosedAt ? victimClosedAt - faultAt : null,
      lastErrorMs: lastErrorAt ? lastErrorAt - faultAt : 0,
      readsRetried: target.topology.faultCounters.readRetries - retriesBefore,
      eventLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
      errorSamples: [...errorSamples].map(([error, count]) => ({ error, count })),
      beforeSeconds: o.beforeSeconds,
      afterSeconds: o.afterSeconds,
    };
  } finally {
    await target.stop();
  }
}

export async function runFaultsBench(o: FaultsBenchOptions): Promise<{ ok: boolean }> {
  const startedAt = new Date();
  const machine = await machineInfo();
  const before = loadSnapshot();
  o.log(`bench faults: ${describeMachine(machine)}; ${describeLoad(before)}`);
  const runs: FaultRun[] = [];
  for (const protocol of o.protocols ?? ['postgres']) {
    for (const poolMode of o.poolModes) {
      for (const fault of o.faults) {
        o.log(
          `bench faults: ${protocol}, ${fault} in ${poolMode} pooling (${o.readers} readers + 1 writer) ...`,
        );
        runs.push(await runOne(protocol, fault, poolMode, o));
      }
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
