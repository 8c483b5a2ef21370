// `bench split`: the cutover load test of the migration issue. A local demo topology (2 shards x
// 1 replica) plus two spare primaries; a paced writer pool (~1,000 writes/s of inserts and updates
// over the shard(s) being moved, each acknowledged write in a ledger), an inserter into an
// unsharded table (audit_log, on the default shard s0) with its own ledger, and readers at every
// level run while a migration runs to completion: `--operation split` (s0 in two), `merge` (s0
// and s1 into one spare) or `move` (audit_log from s0 to s1). Then: every acknowledged write
// exactly once on its owner, nothing unacknowledged, the only client errors 40001 retries, and
// the block's figures, with the slowest write before, during and after the block.
// `protocol: 'mysql'` runs the same on MariaDB through shardgate's MySQL port (mysql2 writers, the
// same ledger); what differs per protocol is in split-servers.ts.
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { MigrationState } from '../../src/migration/state-store.js';
import { LatencyRecorder } from '../lib/hdr.js';
import { describeLoad, describeMachine, loadSnapshot, machineInfo } from '../lib/machine.js';
import { startInstances } from '../lib/proxy-instances.js';
import { fileTimestamp, fmt, formatTable, markdownTable, writeResultFiles } from '../lib/report.js';
import { type BenchProtocol, classifyError, openSession, withServer } from '../lib/sql-session.js';
import { lineChart } from '../lib/svg-chart.js';
import { stackCharts } from '../lib/svg-stack.js';
import { checkLedger, poolInThisThread, poolInWorker, usersIn } from '../lib/write-ledger.js';
import { type SplitServers, startSplitServers } from './split-servers.js';

export type MigrationOperation = 'split' | 'merge' | 'move';

export interface SplitBenchOptions {
  operation?: MigrationOperation;
  /** The shards' servers and the proxy port the load uses (default postgres). */
  protocol?: BenchProtocol;
  writesPerSecond: number;
  writers: number;
  readers: number;
  /** Demo users loaded before the split (rows to copy). */
  users: number;
  /** Load before the split starts and after it settles, in seconds. */
  warmupSeconds: number;
  cooldownSeconds: number;
  cutoverDeadlineMs: number;
  /** Shardgate instances sharing a 3-member etcd (1: one process, no etcd); writers spread over them. */
  instances?: number;
  rowsPerSecond: number;
  /** The migration's verification after its switch (default full). */
  verify?: 'full' | { sample: number };
  resultsDir: string;
  jsonPath?: string;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runSplitBench(o: SplitBenchOptions) {
  const machine = await machineInfo();
  const loadBefore = loadSnapshot();
  o.log(`machine: ${describeMachine(machine)}; ${describeLoad(loadBefore)}`);
  const protocol = o.protocol ?? 'postgres';
  o.log(
    `starting 2 ${protocol === 'mysql' ? 'MariaDB' : 'PostgreSQL'} shards x 1 replica and 2 spare primaries...`,
  );
  const servers = await startSplitServers(protocol, {
    users: o.users,
    poolSize: Math.max(20, o.writers + o.readers + 4),
    rowsPerSecond: o.rowsPerSecond,
    cutoverDeadlineMs: o.cutoverDeadlineMs,
  });
  try {
    o.log(`loaded ${servers.loaded.rows} demo rows and ${servers.loaded.audit} audit_log rows`);
    const operation = o.operation ?? 'split';
    const instances = await startInstances(servers.config, o.instances ?? 1, servers.url);
    const proxy = instances.proxies[0]!;
    const side = servers.side(proxy);
    if (instances.proxies.length > 1)
      o.log(`${instances.proxies.length} instances on a 3-member etcd; the first runs the migration`);
    try {
      const url = instances.urls[0]!;
      // The keys the migration moves: s0's, or both shards' for a merge.
      const before = side.shardList().filter((s) => s.name === 's0' || s.name === 's1');
      const moving = operation === 'merge' ? before : before.filter((s) => s.name === 's0');
      const users = moving.flatMap((shard) =>
        usersIn(shard.range, Math.ceil(400 / moving.length), 1, o.users),
      );
      const idBase = 1_000_000_000;
      const poolOptions = {
        protocol,
        url: instances.urls,
        writers: o.writers,
        readers: o.readers,
        writesPerSecond: o.writesPerSecond,
        users,
        idBase,
      };
      // A worker thread when running compiled: the load must not share the proxy's event loop.
      const pool = (await poolInWorker(poolOptions)) ?? poolInThisThread(poolOptions);
      const auditWriter = startAuditInserter(servers, url, Math.max(10, Math.round(o.writesPerSecond / 10)));
      // The proxy's event loop (this thread; the writers run in a worker): its delay per 100 ms,
      // to tell proxy-side stalls from server-side ones around the switch.
      const loopDelay = startLoopDelaySampler();
      await sleep(o.warmupSeconds * 1000);
      const writesAtStart = await pool.writes();
      const splitStarted = performance.now();
      const migrations = proxy.migrations!;
      const verify = o.verify ?? 'full';
      const started =
        operation === 'merge'
          ? await migrations.startMerge({ shards: ['s0', 's1'], into: 'spare1', verify })
          : operation === 'move'
            ? await migrations.startMove({ table: 'audit_log', to: 's1', verify })
            : await migrations.start({
                shard: 's0',
                at: 'auto',
                targets: ['spare1', 'spare2'],
                verify,
              });
      o.log(
        `${operation} ${started.id}: ${started.plan.targets.map((t) => `${t.shard} ${t.range}`).join(', ')}`,
      );
      let state: MigrationState = started;
      let lastLine = '';
      // Per status line: the writes acknowledged per second since the last line, and how busy the
      // proxy's thread (which also decodes and applies the capture) was meanwhile.
      let elu = performance.eventLoopUtilization();
      let lastWrites = await pool.writes();
      let lastAt = performance.now();
      for (;;) {
        state = proxy.migrations!.get(started.id);
        const line = `${state.phase}: ${state.status}`;
        if (line !== lastLine) {
          const now = performance.now();
          const writes = await pool.writes();
          const busy = performance.eventLoopUtilization(elu).utilization;
          o.log(
            `  ${line} [${fmt(((writes - lastWrites) * 1000) / (now - lastAt))} writes/s, proxy thread busy ${fmt(busy * 100)} %]`,
          );
          elu = performance.eventLoopUtilization();
          lastWrites = writes;
          lastAt = now;
        }
        lastLine = line;
        const verifying = proxy.migrations!.verifying(state.id);
        if (['verified', 'aborted'].includes(state.phase)) break;
        if (state.phase === 'switched' && state.verify && !verifying) break;
        if (!proxy.migrations!.isRunning(state.id) && state.phase !== 'switched') break;
        await sleep(200);
      }
      const splitSeconds = (performance.now() - splitStarted) / 1000;
      const writesDuringSplit = (await pool.writes()) - writesAtStart;
      await sleep(o.cooldownSeconds * 1000);
      const ledger = await pool.stop();
      const loopSamples = loopDelay.stop();
      const shardList = side.shardList();
      const shards = shardList.map((s) => ({
        shard: s.name,
        range: s.range,
        host: s.primary.host,
        port: s.primary.port,
      }));
      const check = await checkLedger(ledger, shards, idBase, protocol);
      const warmup = await servers.poolConnectionsAfterSwitch(state, shardList);
      // audit_log's acknowledged inserts, on the server that is its home now.
      const view = side.view();
      const home = view.tables.audit_log?.home ?? view.defaultShard;
      const homeServer = shardList.find((s) => s.name === home)!.primary;
      const auditMissing = await auditWriter.stopAndCheck(homeServer);
      for (const id of auditMissing.slice(0, 10))
        check.problems.push(`audit_log id ${id} acknowledged but missing on ${home}`);
      if (auditMissing.length > 10)
        check.problems.push(`... ${auditMissing.length - 10} more audit_log ids missing`);
      const latency = new LatencyRecorder();
      for (const ms of ledger.writeLatencies) latency.recordMs(ms);
      const cutover = state.cutovers.find((c) => c.outcome === 'switched') ?? state.cutovers.at(-1) ?? null;
      const result = {
        scenario: 'split',
        protocol,
        operation,
        at: new Date().toISOString(),
        machine,
        load: { before: loadBefore, after: loadSnapshot() },
        parameters: { ...o, log: undefined },
        migration: {
          id: state.id,
          phase: state.phase,
          status: state.status,
          at: state.plan.at,
          targets: state.plan.targets.map((t) => ({ shard: t.shard, range: t.range })),
          copiedRows: state.copy.reduce((n, t) => n + t.rows, 0),
          splitSeconds,
          cutoverAttempts: state.cutovers.length,
          cutover,
          verify: state.verify
            ? {
                chunks: state.verify.chunksChecked,
                rows: state.verify.rowsChecked,
                mismatches: state.verify.mismatches.length,
              }
            : null,
        },
        load_: {
          writes: ledger.writes,
          writesPerSecondDuringSplit: writesDuringSplit / splitSeconds,
          reads: ledger.reads,
          retries40001: ledger.retries + auditWriter.retries,
          auditInserts: auditWriter.acked.size,
          writeErrors: ledger.errors.length,
          readErrors: ledger.readErrors.length,
          staleOwnReads: ledger.staleOwnReads,
          writeLatency: latency.summary(),
        },
        instances: instances.proxies.length,
        memberHolds: instances.memberHolds,
        poolConnectionsAfterSwitch: warmup,
        afterSwitch: switchTimeline(ledger.writeTimes, ledger.writeLatencies, loopSamples, state),
        phases: phaseWindows(ledger.writeTimes, ledger.writeLatencies, state, loopSamples.samples),
        ledger: check,
        errors: [...ledger.errors, ...ledger.readErrors, ...auditWriter.errors].slice(0, 20),
      };
      const ok =
        state.phase === 'verified' &&
        check.problems.length === 0 &&
        ledger.errors.length === 0 &&
        auditWriter.errors.length === 0 &&
        ledger.readErrors.length === 0 &&
        ledger.staleOwnReads === 0;
      const rows: Array<[string, string]> = [
        ['outcome', ok ? 'PASS' : 'FAIL'],
        [operation, `${describeMigration(state)}: ${state.phase}`],
        ['copied rows', fmt(result.migration.copiedRows)],
        [`${operation} duration`, `${fmt(splitSeconds, 1)} s`],
        [`writes/s during ${operation}`, fmt(result.load_.writesPerSecondDuringSplit)],
        ['cutover attempts', fmt(state.cutovers.length)],
        [
          'block (hold to release)',
          cutover
            ? `${fmt(cutover.blockMs)} ms (drain ${fmt(cutover.drainMs)}, catch-up ${fmt(cutover.catchUpMs)})`
            : '-',
        ],
        ...(instances.proxies.length > 1
          ? ([
              ['instances (fenced cutover)', fmt(instances.proxies.length)],
              [
                'every member acked, after the hold',
                cutover?.fence?.acksMs != null
                  ? `${fmt(cutover.fence.acksMs)} ms (${cutover.fence.members.join(', ')})`
                  : '-',
              ],
              [
                "members' blocks (hold to release), every attempt",
                instances.memberHolds
                  .map((h) => `${h.instance} ${h.outcome} ${fmt(h.blockMs)} ms`)
                  .join('; ') || '-',
              ],
            ] as Array<[string, string]>)
          : []),
        ['held statements', cutover ? fmt(cutover.heldStatements) : '-'],
        ['held delay max / p99', cutover ? `${fmt(cutover.maxHeldMs)} / ${fmt(cutover.p99HeldMs)} ms` : '-'],
        [
          protocol === 'mysql' ? '40001 retries (MySQL errno 1213)' : '40001 retries',
          fmt(ledger.retries + auditWriter.retries),
        ],
        [
          'client errors (other)',
          fmt(ledger.errors.length + ledger.readErrors.length + auditWriter.errors.length),
        ],
        [
          'write latency p50 / p99 / max',
          `${fmt(result.load_.writeLatency.p50Ms, 1)} / ${fmt(result.load_.writeLatency.p99Ms, 1)} / ${fmt(result.load_.writeLatency.maxMs)} ms`,
        ],
        [
          'acknowledged writes checked',
          `${fmt(check.checkedInserts)} inserts, ${fmt(check.checkedUsers)} users' updates, ${fmt(auditWriter.acked.size)} audit_log inserts`,
        ],
        ['ledger problems', fmt(check.problems.length)],
        ['stale own reads (RYW)', fmt(ledger.staleOwnReads)],
        [
          "writers' role's pool connections on the new primaries: opened before the switch / first second after / later",
          warmup ? `${warmup.before} / ${warmup.firstSecond} / ${warmup.later}` : '-',
        ],
        ...result.phases.map((w): [string, string] => [
          `slowest write ${w.label}`,
          w.writes
            ? `${fmt(w.maxMs)} ms (p99 ${fmt(w.p99Ms)} ms, ${fmt(w.writes)} writes; proxy loop delay max ${fmt(w.loopDelayMaxMs)} ms)`
            : '-',
        ]),
      ];
      o.log('');
      o.log(formatTable(['figure', 'value'], rows, ['left', 'left']));
      if (result.afterSwitch) {
        o.log("\naround the release (100 ms by write start; loop delay and gc pauses: the proxy thread's):");
        o.log(
          formatTable(
            ['from release', 'writes', 'slowest write', 'p99', 'loop delay max', 'gc pauses', 'migration'],
            result.afterSwitch.map((b) => [
              `${b.fromMs} ms`,
              fmt(b.writes),
              `${fmt(b.maxMs)} ms`,
              `${fmt(b.p99Ms)} ms`,
              `${fmt(b.loopDelayMaxMs)} ms`,
              `${fmt(b.gcPauseMs)} ms`,
              b.events.join(', '),
            ]),
            ['right', 'right', 'right', 'right', 'right', 'right', 'left'],
          ),
        );
      }
      for (const p of check.problems.slice(0, 10)) o.log(`  ledger: ${p}`);
      for (const e of result.errors.slice(0, 10)) o.log(`  error: ${e}`);
      const svg = timelineChart(ledger.writeTimes, ledger.writeLatencies, state);
      const named = operation === 'split' ? 'split' : `migrate-${operation}`;
      const single = protocol === 'mysql' ? `mysql-${named}` : named;
      const scenario =
        instances.proxies.length > 1 ? `${single}-${instances.proxies.length}-instances` : single;
      const markdown = `${markdownTable(['figure', 'value'], rows)}\n\n![writes and write latency during the ${operation}](bench/results/${scenario}-latest.svg)\n`;
      const files = writeResultFiles({
        dir: o.resultsDir,
        scenario,
        timestamp: fileTimestamp(),
        result,
        svg,
        markdown,
        ...(o.jsonPath ? { jsonPath: o.jsonPath } : {}),
      });
      o.log(`\nwrote ${files.json} and ${files.markdown}`);
      return { ok, result };
    } finally {
      await instances.close();
    }
  } finally {
    await servers.stop();
  }
}

/**
 * The main thread's event-loop delay, max per 100 ms, as (epoch ms, max ms) samples, and its
 * garbage collections (epoch ms of their start, pause ms): a pause of the proxy's thread stops
 * every statement it relays, which a dip in the writers' latency would line up with.
 */
function startLoopDelaySampler() {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const samples: Array<{ at: number; maxMs: number }> = [];
  const gcs: Array<{ at: number; ms: number }> = [];
  const timer = setInterval(() => {
    samples.push({ at: Date.now(), maxMs: h.max / 1e6 });
    h.reset();
  }, 100);
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ at: performance.timeOrigin + e.startTime, ms: e.duration });
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      clearInterval(timer);
      h.disable();
      gcObserver.disconnect();
      return { samples, gcs };
    },
  };
}

/**
 * From 0.5 s before the block's release to 3 s after it, per 100 ms by write start: the writes,
 * the slowest and the p99, the proxy thread's worst event-loop delay and its garbage-collection
 * pauses, and what the migration did then (its phase notes): what a dip after the switch lines
 * up with. The topology switch itself is inside the block, just before "released"; a phase note
 * is when the manager recorded the phase, which for `switched` is after the block returned and
 * the cutover's control connections closed (a trace of a split at load 47 had the switch 0.1 ms
 * before the release and the note 514 ms after it), so notes are labelled "noted", not as events.
 */
function switchTimeline(
  times: readonly number[],
  latencies: readonly number[],
  proxyThread: {
    samples: ReadonlyArray<{ at: number; maxMs: number }>;
    gcs: ReadonlyArray<{ at: number; ms: number }>;
  },
  state: MigrationState,
) {
  const cutover = state.cutovers.find((c) => c.outcome === 'switched');
  if (!cutover?.startedAt) return null;
  const released = cutover.startedAt + cutover.blockMs;
  const step = 100;
  const out: Array<{
    fromMs: number;
    writes: number;
    maxMs: number;
    p99Ms: number;
    loopDelayMaxMs: number;
    gcPauseMs: number;
    events: string[];
  }> = [];
  for (let from = -500; from < 3_000; from += step) {
    const lo = released + from;
    const hi = lo + step;
    const picked: number[] = [];
    times.forEach((t, i) => {
      const began = t - latencies[i]!;
      if (began >= lo && began < hi) picked.push(latencies[i]!);
    });
    picked.sort((a, b) => a - b);
    // A sample covers the 100 ms before it was taken.
    const loopDelayMaxMs = proxyThread.samples
      .filter((s) => s.at > lo && s.at <= hi + step)
      .reduce((m, s) => Math.max(m, s.maxMs), 0);
    const gcPauseMs = proxyThread.gcs
      .filter((g) => g.at >= lo && g.at < hi)
      .reduce((sum, g) => sum + g.ms, 0);
    const events = state.history
      .filter((h) => {
        const at = Date.parse(h.at);
        return at >= lo && at < hi;
      })
      .map((h): string => `${h.phase} noted`);
    if (cutover.startedAt >= lo && cutover.startedAt < hi) events.unshift('block starts');
    if (released >= lo && released < hi) events.unshift('switched + released');
    out.push({
      fromMs: from,
      writes: picked.length,
      maxMs: picked.at(-1) ?? 0,
      p99Ms: picked[Math.min(picked.length - 1, Math.floor(picked.length * 0.99))] ?? 0,
      loopDelayMaxMs,
      gcPauseMs,
      events,
    });
  }
  return out;
}

/**
 * Write latency by what the migration was doing when each write started: before it, in its schema
 * and copy, catching up before the block, in the block (held or not), the first second after the switch, the rest of the verification, and
 * after it. The block's own start (epoch ms) and length come from the cutover report, so the
 * windows line up with the hold exactly; the phase notes only bound the verification.
 */
function phaseWindows(
  times: readonly number[],
  latencies: readonly number[],
  state: MigrationState,
  loopDelay: ReadonlyArray<{ at: number; maxMs: number }>,
) {
  const at = (phase: string) => {
    const h = state.history.findLast((e) => e.phase === phase);
    return h ? Date.parse(h.at) : null;
  };
  const first = (phase: string) => {
    const h = state.history.find((e) => e.phase === phase);
    return h ? Date.parse(h.at) : null;
  };
  const cutover = state.cutovers.find((c) => c.outcome === 'switched');
  const switchedNote = at('switched');
  if (!cutover || switchedNote === null) return [];
  const blockStart = cutover.startedAt ?? switchedNote - cutover.blockMs;
  const released = blockStart + cutover.blockMs;
  const verified = at('verified') ?? Number.POSITIVE_INFINITY;
  const windows = [
    // Split so a slow write is blamed on what ran then: the warm-up has no migration at all.
    { label: 'before the migration', from: 0, to: first('schema') ?? blockStart },
    { label: 'schema and copy', from: first('schema') ?? blockStart, to: first('catching_up') ?? blockStart },
    { label: 'catching up, before the block', from: first('catching_up') ?? blockStart, to: blockStart },
    { label: 'in the block', from: blockStart, to: released },
    { label: 'switch .. switch + 1 s', from: released, to: released + 1_000 },
    { label: 'switch + 1 s .. verified', from: released + 1_000, to: verified },
    { label: 'after verification', from: verified, to: Number.POSITIVE_INFINITY },
  ];
  return windows.map((w) => {
    const picked: number[] = [];
    times.forEach((t, i) => {
      const started = t - latencies[i]!;
      if (started >= w.from && started < w.to) picked.push(latencies[i]!);
    });
    picked.sort((a, b) => a - b);
    // The proxy thread's worst stall then: a slow write beside a short one waited on a server.
    const loopDelayMaxMs = loopDelay
      .filter((d) => d.at > w.from && d.at <= w.to)
      .reduce((m, d) => Math.max(m, d.maxMs), 0);
    return {
      label: w.label,
      writes: picked.length,
      maxMs: picked.at(-1) ?? 0,
      p99Ms: picked[Math.min(picked.length - 1, Math.floor(picked.length * 0.99))] ?? 0,
      loopDelayMaxMs,
    };
  });
}

function describeMigration(state: MigrationState): string {
  const plan = state.plan;
  const to = plan.targets.map((t) => t.shard).join(', ');
  if (plan.merge) return `${plan.merge.sources.map((s) => s.shard).join(' + ')} -> ${to}`;
  if (plan.move) return `${plan.move.table} ${plan.sourceShard} -> ${plan.move.to}`;
  return `${plan.sourceShard} at ${plan.at} -> ${to}`;
}

/** Paced inserts into audit_log through the proxy; afterwards, the acknowledged ids missing on its home. */
function startAuditInserter(servers: SplitServers, url: string, perSecond: number) {
  const acked = new Set<string>();
  const errors: string[] = [];
  let retries = 0;
  let stopped = false;
  const loop = (async () => {
    const c = await openSession(servers.protocol, url);
    for (let n = 0; !stopped; n++) {
      try {
        acked.add(await servers.insertAudit(c, `bench ${n}`));
      } catch (err) {
        const { retry, code } = classifyError(err);
        if (retry) retries++;
        else errors.push(`${code}: ${(err as Error).message}`);
      }
      await sleep(1000 / perSecond);
    }
    await c.end();
  })();
  return {
    acked,
    errors,
    get retries() {
      return retries;
    },
    async stopAndCheck(home: { host: string; port: number }): Promise<string[]> {
      stopped = true;
      await loop;
      return withServer(servers.protocol, home, async (c) => {
        const r = await c.query('SELECT id FROM audit_log');
        const present = new Set(r.rows.map((row) => String(row.id)));
        return [...acked].filter((id) => !present.has(id));
      });
    },
  };
}

/**
 * Writes per second and the slowest write per 250 ms over the run, with the cutover marked in
 * the subtitle: what the block does to the traffic, at a glance.
 */
function timelineChart(
  times: readonly number[],
  latencies: readonly number[],
  state: MigrationState,
): string {
  const bucketMs = 250;
  const start = times.length ? Math.min(...times) : Date.now();
  const buckets = new Map<number, { writes: number; maxMs: number }>();
  times.forEach((t, i) => {
    const b = Math.floor((t - start) / bucketMs);
    const cell = buckets.get(b) ?? { writes: 0, maxMs: 0 };
    cell.writes++;
    cell.maxMs = Math.max(cell.maxMs, latencies[i] ?? 0);
    buckets.set(b, cell);
  });
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  const at = (b: number) => (b * bucketMs) / 1000;
  const blocking = state.history.find((h) => h.phase === 'blocking');
  const blockAt = blocking ? (Date.parse(blocking.at) - start) / 1000 : null;
  const subtitle =
    blockAt !== null ? `cutover block started at ${blockAt.toFixed(1)} s` : 'no cutover block in this run';
  return stackCharts([
    lineChart({
      title: 'Acknowledged writes per second during the split',
      subtitle,
      xLabel: 'seconds since the load started',
      yLabel: 'writes/s',
      series: [
        {
          name: 'writes/s',
          points: keys.map((b) => ({ x: at(b), y: (buckets.get(b)!.writes * 1000) / bucketMs })),
        },
      ],
    }),
    lineChart({
      title: 'Slowest write per 250 ms (ms)',
      subtitle,
      xLabel: 'seconds since the load started',
      yLabel: 'ms',
      series: [
        { name: 'max write latency', points: keys.map((b) => ({ x: at(b), y: buckets.get(b)!.maxMs })) },
      ],
    }),
  ]);
}
