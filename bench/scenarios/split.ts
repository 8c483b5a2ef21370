// `bench split`: the cutover load test of the migration issue. A local demo topology (2 shards x
// 1 replica) plus two spare primaries; a paced writer pool (~1,000 writes/s of inserts and updates
// over the shard being split, each acknowledged write in a ledger) and readers at every level run
// while shard s0 is split to completion. Then: every acknowledged write exactly once on its
// owner, nothing unacknowledged, the only client errors 40001 retries, and the block's figures.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDemoData } from '../../src/local/demo-data.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import { startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { silentLogger } from '../../src/log.js';
import type { MigrationState } from '../../src/migration/state-store.js';
import { startProxy } from '../../src/proxy.js';
import { parseKeyRange } from '../../src/router/sharding/keyspace.js';
import { LatencyRecorder } from '../lib/hdr.js';
import { describeLoad, describeMachine, loadSnapshot, machineInfo } from '../lib/machine.js';
import { fileTimestamp, fmt, formatTable, markdownTable, writeResultFiles } from '../lib/report.js';
import { lineChart } from '../lib/svg-chart.js';
import { stackCharts } from '../lib/svg-stack.js';
import { checkLedger, poolInThisThread, poolInWorker, usersIn } from '../lib/write-ledger.js';

export interface SplitBenchOptions {
  writesPerSecond: number;
  writers: number;
  readers: number;
  /** Demo users loaded before the split (rows to copy). */
  users: number;
  /** Load before the split starts and after it settles, in seconds. */
  warmupSeconds: number;
  cooldownSeconds: number;
  cutoverDeadlineMs: number;
  rowsPerSecond: number;
  resultsDir: string;
  jsonPath?: string;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runSplitBench(o: SplitBenchOptions) {
  const machine = await machineInfo();
  const loadBefore = loadSnapshot();
  o.log(`machine: ${describeMachine(machine)}; ${describeLoad(loadBefore)}`);
  o.log('starting 2 shards x 1 replica and 2 spare primaries...');
  const cluster = await startPostgresCluster({ shards: 2, replicasPerShard: 1, database: 'shardgate' });
  try {
    const spares = [await cluster.addSpare('spare1'), await cluster.addSpare('spare2')];
    const config = configForLocalShards(
      cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
      {
        database: 'shardgate',
        overrides: {
          listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
          pool: { size: Math.max(20, o.writers + o.readers + 4) },
          migration: {
            stateDir: mkdtempSync(path.join(os.tmpdir(), 'shardgate-bench-split-')),
            rowsPerSecond: o.rowsPerSecond,
            cutoverDeadlineMs: o.cutoverDeadlineMs,
            spares: spares.map((s) => ({ name: s.name, host: s.host, port: s.port })),
          },
        },
      },
    );
    const loaded = await loadDemoData(config, { users: o.users });
    o.log(`loaded ${loaded.rows} demo rows`);
    const proxy = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: 0 });
    try {
      const url = `postgres://app:app@127.0.0.1:${proxy.postgres.port}/shardgate`;
      const users = usersIn(parseKeyRange(config.shards[0]!.keyRange), 400, 1, o.users);
      const idBase = 1_000_000_000;
      const poolOptions = {
        url,
        writers: o.writers,
        readers: o.readers,
        writesPerSecond: o.writesPerSecond,
        users,
        idBase,
      };
      // A worker thread when running compiled: the load must not share the proxy's event loop.
      const pool = (await poolInWorker(poolOptions)) ?? poolInThisThread(poolOptions);
      await sleep(o.warmupSeconds * 1000);
      const writesAtStart = await pool.writes();
      const splitStarted = performance.now();
      const started = await proxy.migrations!.start({
        shard: 's0',
        at: 'auto',
        targets: ['spare1', 'spare2'],
        verify: 'full',
      });
      o.log(`split ${started.id}: ${started.plan.targets.map((t) => `${t.shard} ${t.range}`).join(', ')}`);
      let state: MigrationState = started;
      let lastLine = '';
      for (;;) {
        state = proxy.migrations!.get(started.id);
        const line = `${state.phase}: ${state.status}`;
        if (line !== lastLine) o.log(`  ${line}`);
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
      const shards = proxy.topology.shardList().map((s) => ({
        shard: s.name,
        range: s.range,
        host: s.primary.host,
        port: s.primary.port,
      }));
      const check = await checkLedger(ledger, shards, idBase);
      const latency = new LatencyRecorder();
      for (const ms of ledger.writeLatencies) latency.recordMs(ms);
      const cutover = state.cutovers.find((c) => c.outcome === 'switched') ?? state.cutovers.at(-1) ?? null;
      const result = {
        scenario: 'split',
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
          retries40001: ledger.retries,
          writeErrors: ledger.errors.length,
          readErrors: ledger.readErrors.length,
          staleOwnReads: ledger.staleOwnReads,
          writeLatency: latency.summary(),
        },
        ledger: check,
        errors: [...ledger.errors, ...ledger.readErrors].slice(0, 20),
      };
      const ok =
        state.phase === 'verified' &&
        check.problems.length === 0 &&
        ledger.errors.length === 0 &&
        ledger.readErrors.length === 0 &&
        ledger.staleOwnReads === 0;
      const rows: Array<[string, string]> = [
        ['outcome', ok ? 'PASS' : 'FAIL'],
        [
          'split',
          `${state.plan.sourceShard} at ${state.plan.at} -> ${state.plan.targets.map((t) => t.shard).join(', ')}: ${state.phase}`,
        ],
        ['copied rows', fmt(result.migration.copiedRows)],
        ['split duration', `${fmt(splitSeconds, 1)} s`],
        ['writes/s during split', fmt(result.load_.writesPerSecondDuringSplit)],
        ['cutover attempts', fmt(state.cutovers.length)],
        [
          'block (hold to release)',
          cutover
            ? `${fmt(cutover.blockMs)} ms (drain ${fmt(cutover.drainMs)}, catch-up ${fmt(cutover.catchUpMs)})`
            : '-',
        ],
        ['held statements', cutover ? fmt(cutover.heldStatements) : '-'],
        ['held delay max / p99', cutover ? `${fmt(cutover.maxHeldMs)} / ${fmt(cutover.p99HeldMs)} ms` : '-'],
        ['40001 retries', fmt(ledger.retries)],
        ['client errors (other)', fmt(ledger.errors.length + ledger.readErrors.length)],
        [
          'write latency p50 / p99 / max',
          `${fmt(result.load_.writeLatency.p50Ms, 1)} / ${fmt(result.load_.writeLatency.p99Ms, 1)} / ${fmt(result.load_.writeLatency.maxMs)} ms`,
        ],
        [
          'acknowledged writes checked',
          `${fmt(check.checkedInserts)} inserts, ${fmt(check.checkedUsers)} users' updates`,
        ],
        ['ledger problems', fmt(check.problems.length)],
        ['stale own reads (RYW)', fmt(ledger.staleOwnReads)],
        ...phaseWindows(ledger.writeTimes, ledger.writeLatencies, state).map((w): [string, string] => [
          `slowest write ${w.label}`,
          w.writes ? `${fmt(w.maxMs)} ms (p99 ${fmt(w.p99Ms)} ms, ${fmt(w.writes)} writes)` : '-',
        ]),
      ];
      o.log('');
      o.log(formatTable(['figure', 'value'], rows, ['left', 'left']));
      for (const p of check.problems.slice(0, 10)) o.log(`  ledger: ${p}`);
      for (const e of result.errors.slice(0, 10)) o.log(`  error: ${e}`);
      const svg = timelineChart(ledger.writeTimes, ledger.writeLatencies, state);
      const markdown = `${markdownTable(['figure', 'value'], rows)}\n\n![writes and write latency during the split](bench/results/split-latest.svg)\n`;
      const files = writeResultFiles({
        dir: o.resultsDir,
        scenario: 'split',
        timestamp: fileTimestamp(),
        result,
        svg,
        markdown,
        ...(o.jsonPath ? { jsonPath: o.jsonPath } : {}),
      });
      o.log(`\nwrote ${files.json} and ${files.markdown}`);
      return { ok, result };
    } finally {
      await proxy.close();
    }
  } finally {
    await cluster.stop();
  }
}

/**
 * Write latency by what the migration was doing when each write started: before the block,
 * around the switch (the block and the first second after it), and while verification ran
 * after it. Tells which phase makes writes slow after the switch.
 */
function phaseWindows(times: readonly number[], latencies: readonly number[], state: MigrationState) {
  const at = (phase: string) => {
    const h = state.history.findLast((e) => e.phase === phase);
    return h ? Date.parse(h.at) : null;
  };
  const switched = at('switched');
  const verifying = at('verifying') ?? switched;
  const verified = at('verified');
  if (switched === null) return [];
  const blockMs = state.cutovers.at(-1)?.blockMs ?? 0;
  const windows = [
    { label: 'before the block', from: 0, to: switched - blockMs },
    { label: 'block .. switch + 1 s', from: switched - blockMs, to: switched + 1_000 },
    { label: 'while verifying', from: verifying ?? switched, to: verified ?? Number.POSITIVE_INFINITY },
    { label: 'after verification', from: verified ?? Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY },
  ];
  return windows.map((w) => {
    const picked: number[] = [];
    times.forEach((t, i) => {
      const started = t - latencies[i]!;
      if (started >= w.from && started < w.to) picked.push(latencies[i]!);
    });
    picked.sort((a, b) => a - b);
    return {
      label: w.label,
      writes: picked.length,
      maxMs: picked.at(-1) ?? 0,
      p99Ms: picked[Math.min(picked.length - 1, Math.floor(picked.length * 0.99))] ?? 0,
    };
  });
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
