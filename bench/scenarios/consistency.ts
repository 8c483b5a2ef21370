// The consistency scenario: 2 shards x (primary + streaming replica), shardgate as a child
// process, and for each injected replica lag (recovery_min_apply_delay on every replica) and each
// consistency level a mixed workload of sessions writing and reading versioned registers. The
// checker (bench/lib/consistency-checker.ts) judges every read against every acknowledged write:
// stale-read rate, read-your-writes violations; inet_server_port() tells which server answered.
// Lag levels run in the given order (changing lag means waiting for replay); inside a lag level
// the levels rotate between repeats. Every cell is bounded by --duration and --max-ops.
import { parseConfig } from '../../src/config/load.js';
import type { ConsistencyLevel } from '../../src/config/schema.js';
import { rotation } from '../lib/alternate.js';
import { checkHistory } from '../lib/consistency-checker.js';
import {
  adminJson,
  adminMetrics,
  type DemoTopology,
  metricSum,
  type RunningShardgate,
  SCENARIO_TOPOLOGY,
  startScenarioTopology,
  startShardgateOn,
} from '../lib/demo-topology.js';
import { loadSnapshot } from '../lib/machine.js';
import { closeClients, openClients } from '../lib/pg-clients.js';
import { runScenario, type ScenarioOutput } from '../lib/scenario.js';
import { optionValues } from '../lib/scenario-options.js';
import { deepMerge } from '../lib/shardgate-process.js';
import { percentile } from '../lib/stats.js';
import { type ConsistencyOptions, estimateConsistencySeconds } from './consistency-options.js';
import type { ConsistencyResult, ConsistencyRun } from './consistency-report.js';
import * as report from './consistency-report.js';
import {
  type CellHistory,
  cellRegisters,
  emptyHistory,
  type Register,
  runSession,
  seedStatements,
  seedWrites,
} from './consistency-workload.js';

export type ConsistencyOutput = ScenarioOutput<ConsistencyResult>;

interface CellPlan {
  lagMs: number;
  warmup: Register[];
  measured: Map<string, Register[]>;
}

const cellId = (repeat: number, level: ConsistencyLevel) => `${repeat}:${level}`;

export function runConsistencyScenario(o: ConsistencyOptions): Promise<ConsistencyOutput> {
  return runScenario('consistency', o.say, async (run) => {
    const { machine, before } = await run.measureMachine();
    const topo = await startScenarioTopology(run, machine);

    // Every cell gets registers of its own, seeded at version 0 and replayed before any lag.
    let next = 0;
    const plans: CellPlan[] = o.lagsMs.map((lagMs) => {
      const warmup = cellRegisters(next++, o.keys);
      const measured = new Map<string, Register[]>();
      for (let repeat = 0; repeat < o.repeats; repeat++)
        for (const level of o.levels) measured.set(cellId(repeat, level), cellRegisters(next++, o.keys));
      return { lagMs, warmup, measured };
    });
    await seedRegisters(
      topo,
      plans.flatMap((p) => [...p.warmup, ...[...p.measured.values()].flat()]),
    );
    await waitForReplicas(topo);

    const extra = deepMerge(
      { routing: { defaultMaxLagMs: o.boundedMaxLagMs } },
      o.shardgateConfigExtra ?? {},
    );
    // Validates the merged config before launching (a bad --shardgate-config-extra is named here).
    const routing = parseConfig(deepMerge(topo.baseConfig, extra), 'bench consistency config').routing;
    const sg = run.track(await startShardgateOn(topo, { workers: o.workers, extra }));
    run.tell(
      `lags ${o.lagsMs.join(', ')} ms x levels ${o.levels.join(', ')} x ${o.repeats} repeats; about ${Math.ceil(estimateConsistencySeconds(o))} s`,
    );

    const runs: ConsistencyRun[] = [];
    for (const plan of plans) {
      for (const replica of replicaNames(topo)) await topo.cluster.setReplayDelay(replica, plan.lagMs);
      // Unrecorded traffic so the lag monitor has seen the new lag before the first measured cell.
      if (o.warmupS > 0) {
        const warm = await workload(sg, o, 'eventual', plan.warmup, o.warmupS, 9_999);
        warm.history.readLatency.destroy();
        warm.history.writeLatency.destroy();
      }
      for (let repeat = 0; repeat < o.repeats; repeat++) {
        const line: string[] = [];
        for (const [order, level] of rotation(o.levels, repeat).entries()) {
          const registers = plan.measured.get(cellId(repeat, level)) ?? [];
          const run = await measureCell(topo, sg, o, {
            lagMs: plan.lagMs,
            level,
            repeat,
            order,
            registers,
            boundMs: routing.defaultMaxLagMs,
          });
          runs.push(run);
          line.push(`${level} ${(run.staleRate * 100).toFixed(1)}% stale`);
        }
        o.say(`  lag ${plan.lagMs} ms #${repeat + 1}: ${line.join(', ')}`);
      }
      if (plan.lagMs > 0) {
        for (const replica of replicaNames(topo)) await topo.cluster.setReplayDelay(replica, 0);
        await waitForReplicas(topo);
      }
    }
    const header = await run.finishMeasuring(
      o.command,
      machine,
      before,
      '; latency figures are noisy (stale-read rates also depend on how fast replicas replay)',
    );
    const parameters = {
      ...optionValues(o, [
        'lagsMs',
        'levels',
        'clients',
        'durationS',
        'warmupS',
        'repeats',
        'keys',
        'writeRatio',
        'ownReadShare',
        'via',
      ]),
      boundedMaxLagMs: routing.defaultMaxLagMs,
      readYourWritesWaitMs: routing.readYourWritesWaitMs,
      lagPollIntervalMs: routing.lagPollIntervalMs,
      seed: o.seed,
      shardgateWorkers: o.workers,
      shardgateConfigExtra: o.shardgateConfigExtra,
      topology: SCENARIO_TOPOLOGY,
      lagInjection: 'recovery_min_apply_delay on every replica',
      replicaShareSource:
        'inet_server_port() in every read, matched to the launched servers (metricsReplicaShare: /metrics cross-check)',
    };
    const result: ConsistencyResult = {
      ...header,
      parameters,
      runs,
      cells: report.summarizeConsistency(runs, parameters),
      notes: run.notes,
    };
    return run.publish(result, o, report);
  });
}

function replicaNames(topology: DemoTopology): string[] {
  return topology.cluster.shards.flatMap((s) => s.replicas.map((r) => r.name));
}

async function waitForReplicas(topology: DemoTopology): Promise<void> {
  for (const name of replicaNames(topology)) await topology.cluster.waitForReplay(name, 60_000);
}

/** Inserts the registers on the primary of the shard that owns each (directly, not through the proxy). */
async function seedRegisters(topology: DemoTopology, registers: readonly Register[]): Promise<void> {
  for (const shard of topology.cluster.shards) {
    const mine = registers.filter((r) => topology.ownerOf(r.table, r.userId) === shard.name);
    for (let i = 0; i < mine.length; i += 500) {
      for (const sql of seedStatements(mine.slice(i, i + 500)))
        await topology.cluster.query(shard.primary.name, sql);
    }
  }
}

/** Runs `clients` sessions at `level` on `registers` for `seconds`; returns what they recorded. */
async function workload(
  sg: RunningShardgate,
  o: ConsistencyOptions,
  level: ConsistencyLevel,
  registers: readonly Register[],
  seconds: number,
  seedSalt: number,
): Promise<{ history: CellHistory; seconds: number }> {
  const history = emptyHistory();
  const clients = await openClients(sg.endpoint, o.clients);
  try {
    if (o.via === 'set')
      await Promise.all(clients.map((c) => c.query(`SET shardgate.consistency = '${level}'`)));
    const began = performance.now();
    const deadline = began + seconds * 1000;
    await Promise.all(
      clients.map((client, i) =>
        runSession(
          client,
          {
            name: `c${i}`,
            level,
            via: o.via,
            registers,
            writeRatio: o.writeRatio,
            ownReadShare: o.ownReadShare,
            deadline,
            maxOps: o.maxOpsPerSession,
            seed: o.seed * 1_000_003 + seedSalt * 101 + i,
          },
          history,
        ),
      ),
    );
    return { history, seconds: (performance.now() - began) / 1000 };
  } finally {
    await closeClients(clients);
  }
}

interface ShardsApi {
  servers: Array<{ role: string; lagMs: number | null }>;
}

async function measureCell(
  topology: DemoTopology,
  sg: RunningShardgate,
  o: ConsistencyOptions,
  cell: {
    lagMs: number;
    level: ConsistencyLevel;
    repeat: number;
    order: number;
    registers: Register[];
    /** The bound of `bounded` (routing.defaultMaxLagMs). */
    boundMs: number;
  },
): Promise<ConsistencyRun> {
  const startedAt = new Date().toISOString();
  const loadavg1 = loadSnapshot().loadavg[0];
  const metricsBefore = await adminMetrics(sg.adminUrl).catch(() => null);
  const salt = o.lagsMs.indexOf(cell.lagMs) * 10_000 + cell.repeat * 100 + o.levels.indexOf(cell.level);
  const { history, seconds } = await workload(sg, o, cell.level, cell.registers, o.durationS, salt);
  const metricsAfter = await adminMetrics(sg.adminUrl).catch(() => null);
  const shards = await adminJson<ShardsApi[]>(sg.adminUrl, '/api/shards').catch(() => null);

  const check = checkHistory([...seedWrites(cell.registers), ...history.writes], history.reads);
  const replicaReads = history.reads.filter(
    (r) => r.port !== null && topology.serverByPort.get(r.port)?.role === 'replica',
  ).length;
  let metricsReplicaShare: number | null = null;
  if (metricsBefore !== null && metricsAfter !== null) {
    const delta = (role?: string) => {
      const labels: Record<string, string> = role ? { level: cell.level, role } : { level: cell.level };
      const name = 'shardgate_routing_decisions_total';
      return metricSum(metricsAfter, name, labels) - metricSum(metricsBefore, name, labels);
    };
    const all = delta();
    metricsReplicaShare = all > 0 ? delta('replica') / all : null;
  }
  const lags = (shards ?? []).flatMap((s) =>
    s.servers.filter((x) => x.role === 'replica').map((x) => x.lagMs),
  );
  const knownLags = lags.filter((l): l is number => typeof l === 'number');
  const run: ConsistencyRun = {
    lagMs: cell.lagMs,
    level: cell.level,
    repeat: cell.repeat,
    order: cell.order,
    startedAt,
    loadavg1,
    seconds,
    reads: history.reads.length,
    writes: history.writes.length,
    errors: history.errors,
    stale: check.stale,
    staleRate: check.staleRate,
    rywViolations: check.rywViolations,
    future: check.future,
    unknown: check.unknown,
    staleBeyondBound: check.stalenessMs.filter((s) => s > cell.boundMs).length,
    stalenessP50Ms: percentile(check.stalenessMs, 50),
    stalenessMaxMs:
      check.stalenessMs.length > 0 ? (check.stalenessMs[check.stalenessMs.length - 1] as number) : Number.NaN,
    replicaReads,
    replicaShare: history.reads.length > 0 ? replicaReads / history.reads.length : Number.NaN,
    metricsReplicaShare,
    monitorLagMs: knownLags.length > 0 ? Math.max(...knownLags) : null,
    read: history.readLatency.summary(),
    write: history.writeLatency.summary(),
  };
  if (history.firstError) run.error = history.firstError;
  history.readLatency.destroy();
  history.writeLatency.destroy();
  return run;
}
