// The idle-connections scenario: a private PostgreSQL, shardgate in front of it (its own process,
// as users run it), and `connections` logged-in idle clients opened from a separate process
// (idle-opener.ts). The proxy's VmRSS/VmHWM (from /proc) is read before and after they log in;
// pgbench -S with `clients` clients runs without and with them, alternated (A B A B ...), and
// each run's p99 (from pgbench's per-transaction log) and tps are reported with the ratios.
// Loopback only; every wait is bounded; every process is stopped at the end or on Ctrl-C.
import { loadavg } from 'node:os';
import { startBenchPrimary } from '../lib/bench-primary.js';
import { openIdleClients } from '../lib/idle-clients.js';
import type { IdleOpenerSpec } from '../lib/idle-opener.js';
import { pgbenchInit, runPgbench, waitForSql } from '../lib/pgbench.js';
import { runPgbenchLogged } from '../lib/pgbench-log.js';
import { sleep } from '../lib/proc.js';
import { processTreeMemory } from '../lib/process-memory.js';
import { runScenario, type ScenarioOutput } from '../lib/scenario.js';
import { optionValues } from '../lib/scenario-options.js';
import { startShardgate } from '../lib/shardgate-process.js';
import type { IdleOptions } from './idle-options.js';
import type { IdleMemory, IdleResult, IdleRun } from './idle-report.js';
import * as report from './idle-report.js';

/** Headroom over the idle and active clients in the proxy's client limit (psql probes, warm-up). */
const CLIENT_LIMIT_HEADROOM = 64;

export function runIdleScenario(o: IdleOptions): Promise<ScenarioOutput<IdleResult>> {
  return runScenario('idle', o.say, async (run) => {
    const { machine, before } = await run.measureMachine({ pgbench: ['pgbench', '--version'] });
    const { backend } = await startBenchPrimary(run, machine);
    await pgbenchInit(backend, o.scale);

    // shardgate's default limit is 10,000 client connections: the idle ones and the active ones
    // must fit, so the limit is raised for the run (and said so in the report).
    const maxClientConnections = o.connections + o.clients + CLIENT_LIMIT_HEADROOM;
    const started = await startShardgate({
      backend,
      benchUser: backend.user,
      workers: o.workers,
      poolSize: o.poolSize,
      extra: { limits: { maxClientConnections } },
      // At load 45 on 2 cores the proxy has taken over 30 s to listen.
      startTimeoutMs: 120_000,
    });
    if (!started.ok) throw new Error(started.note);
    const proxy = run.track(started.target);
    await waitForSql(proxy, 30_000);
    run.tell(`shardgate (${proxy.version}) on ${proxy.host}:${proxy.port}, pid ${proxy.pid}`);

    const pgbenchSpec = (durationS: number) => ({
      endpoint: proxy,
      mode: 'simple' as const,
      clients: o.clients,
      durationS,
      script: 'select' as const,
    });
    if (o.warmupS > 0) {
      const warm = await runPgbench(pgbenchSpec(o.warmupS));
      // Only warms the pool and caches: on a busy machine a short one may finish no transaction.
      if (!warm.ok) run.tell(`warm-up: ${warm.error} (going on)`);
    }

    const idleSpec: IdleOpenerSpec = {
      host: proxy.host,
      port: proxy.port,
      user: proxy.user,
      database: proxy.database,
      count: o.connections,
      batch: o.batch,
      loginTimeoutMs: 60_000,
      // Bounds the opener whatever happens here: every round's run, logins and closing, with room.
      lifetimeMs: (o.durationS + 120 + Math.ceil(o.connections / 50)) * 1000,
    };
    const memoryAtStart = readMemory(proxy.pid);
    const runs: IdleRun[] = [];
    const memory: IdleMemory[] = [];
    for (let round = 0; round < o.rounds; round++) {
      for (const withIdle of [false, true]) {
        if (!withIdle) {
          runs.push(await measuredRun(round, false, o, pgbenchSpec, run.tell.bind(run)));
          continue;
        }
        const rssBefore = readMemory(proxy.pid);
        run.tell(`round ${round + 1}: opening ${o.connections} idle connections ...`);
        const idle = await openIdleClients(idleSpec);
        try {
          await sleep(o.settleS * 1000);
          const rssIdle = readMemory(proxy.pid);
          runs.push(await measuredRun(round, true, o, pgbenchSpec, run.tell.bind(run)));
          const rssAfterRun = readMemory(proxy.pid);
          memory.push({
            round,
            opened: idle.opened,
            loginMs: idle.ms,
            openerFdLimit: idle.fdLimit,
            before: rssBefore,
            idle: rssIdle,
            afterRun: rssAfterRun,
            perIdleClientKb: (rssIdle.rssKb - rssBefore.rssKb) / idle.opened,
          });
          run.tell(
            `round ${round + 1}: ${idle.opened} idle in ${idle.ms} ms; proxy RSS ${mb(rssBefore.rssKb)} -> ${mb(rssIdle.rssKb)} MB (${((rssIdle.rssKb - rssBefore.rssKb) / idle.opened).toFixed(1)} KiB per idle client), peak ${mb(rssIdle.hwmKb)} MB`,
          );
        } finally {
          await idle.close();
        }
      }
    }
    await sleep(o.settleS * 1000);
    const memoryAtEnd = readMemory(proxy.pid);
    const header = await run.finishMeasuring(o.command, machine, before, ', so the latency ratios are noisy');
    const result: IdleResult = {
      ...header,
      parameters: {
        ...optionValues(o, ['connections', 'clients', 'durationS', 'rounds', 'batch', 'warmupS', 'settleS']),
        shardgateWorkers: o.workers,
        poolSize: o.poolSize,
        scale: o.scale,
        maxClientConnections,
        pgbenchCommand: `pgbench -n -S -M simple -c ${o.clients} -j ${Math.min(o.clients, 2)} -T ${o.durationS} --log`,
      },
      memoryAtStart,
      memoryAtEnd,
      memory,
      runs,
      summary: report.summarize(runs, memory, o.connections),
      notes: run.notes,
    };
    return run.publish(result, o, report);
  });
}

function mb(kb: number): string {
  return (kb / 1024).toFixed(1);
}

function readMemory(pid: number | undefined) {
  const m = processTreeMemory(pid);
  if (!m) throw new Error(`cannot read /proc/${pid}/status: the proxy is gone or this is not Linux`);
  return m;
}

async function measuredRun(
  round: number,
  withIdle: boolean,
  o: IdleOptions,
  spec: (durationS: number) => Parameters<typeof runPgbenchLogged>[0],
  tell: (text: string) => void,
): Promise<IdleRun> {
  const startedAt = new Date().toISOString();
  const loadavg1 = loadavg()[0] ?? 0;
  const r = await runPgbenchLogged(spec(o.durationS));
  const label = withIdle ? `with ${o.connections} idle` : 'without idle';
  if (!r.ok) {
    tell(`round ${round + 1} ${label}: ${r.error}`);
    return { round, withIdle, startedAt, loadavg1, figures: null, error: r.error };
  }
  tell(
    `round ${round + 1} ${label}: ${r.figures.tps.toFixed(0)} tps, p99 ${r.latency.p99Ms.toFixed(2)} ms (${r.latency.transactions} transactions)`,
  );
  return { round, withIdle, startedAt, loadavg1, figures: { tps: r.figures.tps, ...r.latency } };
}
