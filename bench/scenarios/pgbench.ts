// The pgbench scenario: one private PostgreSQL primary, pgbench against it directly and through
// shardgate, PgBouncer and pgpool-II; targets alternate inside each repeat and rotate between
// repeats; medians with min-max are reported. Every loop is bounded; servers stop on exit/Ctrl-C.
import { startBenchPrimary } from '../lib/bench-primary.js';
import { type PgbenchOutcome, pgbenchInit, runPgbench, waitForSql } from '../lib/pgbench.js';
import { startPgbouncer } from '../lib/pgbouncer.js';
import { startPgpool } from '../lib/pgpool.js';
import { processTreeCpuMs } from '../lib/process-cpu.js';
import { runScenario, type ScenarioOutput, type ScenarioRun } from '../lib/scenario.js';
import { optionValues } from '../lib/scenario-options.js';
import { startShardgate } from '../lib/shardgate-process.js';
import type { PgEndpoint, PgTarget } from '../lib/target.js';
import { describeTargetStatus, measureAlternating, warmUpTargets } from '../lib/target-runs.js';
import { tpsResult } from '../lib/tps-report.js';
import { estimateSeconds, type PgbenchOptions, type PgbenchTargetName } from './pgbench-options.js';
import type { PgbenchResult, PgbenchRun, TargetStatus } from './pgbench-report.js';
import * as report from './pgbench-report.js';

export type PgbenchOutput = ScenarioOutput<PgbenchResult>;

export function runPgbenchScenario(options: PgbenchOptions): Promise<PgbenchOutput> {
  return runScenario('pgbench', options.say, async (run) => {
    const started: PgTarget[] = [];
    const statuses = new Map<string, TargetStatus>();
    const { machine, before } = await run.measureMachine({
      pgbench: ['pgbench', '--version'],
      pgbouncer: ['pgbouncer', '--version'],
      pgpool: ['pgpool', '--version'],
    });
    // Every pool keeps its server connections between runs: leave room for all of them.
    const maxClients = Math.max(...options.clients);
    const maxConnections = 50 + maxClients * 2 + options.poolSize * (options.workers + 1) + maxClients + 8;
    const { backend, version: pgVersion } = await startBenchPrimary(run, machine, {
      max_connections: String(maxConnections),
    });
    run.tell(
      `PostgreSQL ${pgVersion} on ${backend.host}:${backend.port}; pgbench -i -s ${options.scale} ...`,
    );
    await pgbenchInit(backend, options.scale);

    for (const name of options.targets) {
      const status = await startTarget(name, backend, options, (t) => started.push(run.track(t)));
      statuses.set(name, status);
      run.tell(describeTargetStatus(status));
    }
    machine.versions.pgbouncer = statuses.get('pgbouncer')?.version ?? machine.versions.pgbouncer ?? null;
    machine.versions.pgpool = statuses.get('pgpool')?.version ?? machine.versions.pgpool ?? null;

    await warmUp(started, options, statuses, run);
    const active = started.filter((t) => statuses.get(t.name)?.status === 'ok');
    const est = estimateSeconds(options, active.length);
    run.tell(`measuring ${active.map((t) => t.name).join(', ')}; about ${Math.ceil(est / 60)} min`);
    const runs = await measure(active, options);
    const header = await run.finishMeasuring(options.command, machine, before, ', expect noise');

    const targetStatuses = options.targets.map(
      (n) => statuses.get(n) ?? { name: n, status: 'skipped' as const, unsupportedModes: {} },
    );
    const parameters = {
      ...optionValues(options, [
        'durationS',
        'clients',
        'modes',
        'targets',
        'repeats',
        'scale',
        'script',
        'warmupS',
      ]),
      shardgateWorkers: options.workers,
      shardgateConfigExtra: options.shardgateConfigExtra,
      poolSize: options.poolSize,
    };
    const parts = { parameters, targets: targetStatuses, runs, notes: run.notes };
    return run.publish(tpsResult(header, parts, report.summarizeCells), options, report);
  });
}

async function startTarget(
  name: PgbenchTargetName,
  backend: PgEndpoint,
  o: PgbenchOptions,
  keep: (target: PgTarget) => void,
): Promise<TargetStatus> {
  let outcome: { ok: true; target: PgTarget } | { ok: false; note: string };
  try {
    switch (name) {
      case 'direct':
        outcome = {
          ok: true,
          target: { name: 'direct', ...backend, unsupportedModes: {}, stop: async () => undefined },
        };
        break;
      case 'pgbouncer':
        outcome = await startPgbouncer({ backend, poolSize: o.poolSize, say: o.say, noInstall: o.noInstall });
        break;
      case 'pgpool':
        outcome = await startPgpool({
          backend,
          maxClients: Math.max(...o.clients),
          say: o.say,
          noInstall: o.noInstall,
        });
        break;
      case 'shardgate':
        outcome = await startShardgate({
          backend,
          benchUser: backend.user,
          workers: o.workers,
          poolSize: o.poolSize,
          extra: o.shardgateConfigExtra ?? undefined,
        });
        break;
    }
  } catch (err) {
    outcome = { ok: false, note: err instanceof Error ? err.message : String(err) };
  }
  if (!outcome.ok) return { name, status: 'skipped', note: outcome.note, unsupportedModes: {} };
  const target = outcome.target;
  keep(target);
  try {
    await waitForSql(target, 30_000);
  } catch (err) {
    return {
      name,
      status: 'failed',
      note: err instanceof Error ? err.message : String(err),
      unsupportedModes: {},
    };
  }
  const status: TargetStatus = { name, status: 'ok', unsupportedModes: { ...target.unsupportedModes } };
  if (target.version) status.version = target.version;
  return status;
}

/** One short run per target so pools, caches and the proxy's parse cache are warm. */
async function warmUp(
  targets: PgTarget[],
  o: PgbenchOptions,
  statuses: Map<string, TargetStatus>,
  run: ScenarioRun,
) {
  if (o.warmupS <= 0) return;
  const clients = Math.min(Math.max(...o.clients), 16);
  await warmUpTargets(
    targets,
    (name) => statuses.get(name),
    (t) => {
      const mode = o.modes.find((m) => !(m in t.unsupportedModes)) ?? 'simple';
      return runPgbench({ endpoint: t, mode, clients, durationS: o.warmupS, script: o.script });
    },
    (text) => run.tell(text),
  );
}

function measure(targets: PgTarget[], o: PgbenchOptions): Promise<PgbenchRun[]> {
  return measureAlternating({
    cells: report.pgbenchCellKeys(o),
    repeats: o.repeats,
    targets,
    skip: (t, cell) => cell.mode in t.unsupportedModes,
    run: (t, { mode, clients }) =>
      withCpuPerTransaction(t.pid, () =>
        runPgbench({ endpoint: t, mode, clients, durationS: o.durationS, script: o.script }),
      ),
    label: ({ mode, clients }) => `${mode} c=${clients}`,
    say: o.say,
  });
}

/** One run, with the target process's CPU per transaction (from /proc) added to its figures. */
async function withCpuPerTransaction(
  pid: number | undefined,
  run: () => Promise<PgbenchOutcome>,
): Promise<PgbenchOutcome> {
  const before = processTreeCpuMs(pid);
  const r = await run();
  const after = processTreeCpuMs(pid);
  if (!r.ok) return r;
  const tx = r.figures.transactions;
  const cpuUsPerTx = before === null || after === null || !tx ? null : ((after - before) * 1000) / tx;
  return { ...r, figures: { ...r.figures, cpuUsPerTx } };
}
