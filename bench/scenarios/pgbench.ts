// The pgbench scenario: one private PostgreSQL primary, pgbench against it directly and through
// shardgate, PgBouncer and pgpool-II; targets alternate inside each repeat and rotate between
// repeats; medians with min-max are reported. Every loop is bounded; servers stop on exit/Ctrl-C.
import { startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { rotation } from '../lib/alternate.js';
import { describeLoad, describeMachine, loadSnapshot, machineInfo } from '../lib/machine.js';
import { pgbenchInit, psql, runPgbench, waitForSql } from '../lib/pgbench.js';
import { startPgbouncer } from '../lib/pgbouncer.js';
import { startPgpool } from '../lib/pgpool.js';
import { onInterrupt } from '../lib/proc.js';
import { fileTimestamp, type WrittenFiles, writeResultFiles } from '../lib/report.js';
import { startShardgate } from '../lib/shardgate-process.js';
import type { PgEndpoint, PgTarget } from '../lib/target.js';
import { estimateSeconds, type PgbenchOptions, type PgbenchTargetName } from './pgbench-options.js';
import {
  consoleReport,
  markdownReport,
  type PgbenchResult,
  type PgbenchRun,
  summarizeCells,
  svgReport,
  type TargetStatus,
} from './pgbench-report.js';

export interface PgbenchOutput {
  result: PgbenchResult;
  files: WrittenFiles | null;
}

const BENCH_DATABASE = 'bench';

/** The launcher's superuser, from the server URL it reports ("postgres" when it names none). */
export function superuserOf(url: string | undefined): string {
  try {
    const user = url ? decodeURIComponent(new URL(url).username) : '';
    return user || 'postgres';
  } catch {
    return 'postgres';
  }
}

export async function runPgbenchScenario(options: PgbenchOptions): Promise<PgbenchOutput> {
  const say = options.say;
  const startedAt = new Date();
  const started: PgTarget[] = [];
  const statuses = new Map<string, TargetStatus>();
  const notes: string[] = [];
  let cluster: Awaited<ReturnType<typeof startPostgresCluster>> | null = null;
  const cleanup = async () => {
    for (const t of started.splice(0).reverse()) await t.stop().catch(() => undefined);
    const c = cluster;
    cluster = null;
    if (c) await c.stop().catch(() => undefined);
  };
  const unregister = onInterrupt(cleanup);
  try {
    const machine = await machineInfo({
      pgbench: ['pgbench', '--version'],
      pgbouncer: ['pgbouncer', '--version'],
      pgpool: ['pgpool', '--version'],
    });
    const before = loadSnapshot();
    say(`bench pgbench: ${describeMachine(machine)}; ${describeLoad(before)}`);
    say('bench pgbench: starting a private PostgreSQL primary ...');
    // Every pool keeps its server connections between runs: leave room for all of them.
    const maxClients = Math.max(...options.clients);
    const maxConnections = 50 + maxClients * 2 + options.poolSize * (options.workers + 1) + maxClients + 8;
    cluster = await startPostgresCluster({
      shards: 1,
      replicasPerShard: 0,
      database: BENCH_DATABASE,
      settings: { max_connections: String(maxConnections) },
    });
    const primary = cluster.shards[0]?.primary;
    if (!primary) throw new Error('the PostgreSQL launcher returned no primary');
    const backend: PgEndpoint = {
      host: primary.host,
      port: primary.port,
      user: superuserOf(primary.url),
      database: BENCH_DATABASE,
    };
    const pgVersion = await psql(backend, 'SHOW server_version');
    machine.versions.postgresql = `PostgreSQL ${pgVersion}`;
    say(
      `bench pgbench: PostgreSQL ${pgVersion} on ${backend.host}:${backend.port}; pgbench -i -s ${options.scale} ...`,
    );
    await pgbenchInit(backend, options.scale);

    for (const name of options.targets) {
      const status = await startTarget(name, backend, options, started);
      statuses.set(name, status);
      say(
        `bench pgbench: ${name}: ${status.status}${status.version ? ` (${status.version})` : ''}${status.note ? `: ${status.note}` : ''}`,
      );
    }
    machine.versions.pgbouncer = statuses.get('pgbouncer')?.version ?? machine.versions.pgbouncer ?? null;
    machine.versions.pgpool = statuses.get('pgpool')?.version ?? machine.versions.pgpool ?? null;

    await warmUp(started, options, statuses, say);
    const active = started.filter((t) => statuses.get(t.name)?.status === 'ok');
    const est = estimateSeconds(options, active.length);
    say(`bench pgbench: measuring ${active.map((t) => t.name).join(', ')}; about ${Math.ceil(est / 60)} min`);
    const runs = await measure(active, options, say);
    const after = loadSnapshot();
    await cleanup();
    // During the run the load is our own; before it, it is other work competing with us.
    if (before.loadavg[0] > machine.cpus * 0.5) {
      notes.push(
        `the 1-minute load average was ${before.loadavg[0].toFixed(2)} on ${machine.cpus} cpus before the run: other work shared the machine, expect noise`,
      );
    }

    const targetStatuses = options.targets.map(
      (n) => statuses.get(n) ?? { name: n, status: 'skipped' as const, unsupportedModes: {} },
    );
    const parameters = {
      durationS: options.durationS,
      clients: options.clients,
      modes: options.modes,
      targets: options.targets,
      repeats: options.repeats,
      scale: options.scale,
      script: options.script,
      warmupS: options.warmupS,
      shardgateWorkers: options.workers,
      shardgateConfigExtra: options.shardgateConfigExtra,
      poolSize: options.poolSize,
    };
    const result: PgbenchResult = {
      scenario: 'pgbench',
      schemaVersion: 1,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: options.command,
      machine,
      load: { before, after },
      parameters,
      targets: targetStatuses,
      runs,
      cells: summarizeCells(runs, parameters, targetStatuses),
      notes,
    };
    say(consoleReport(result));
    let files: WrittenFiles | null = null;
    if (options.resultsDir) {
      files = writeResultFiles({
        dir: options.resultsDir,
        scenario: 'pgbench',
        timestamp: fileTimestamp(startedAt),
        result,
        svg: svgReport(result),
        markdown: markdownReport(result),
        jsonPath: options.jsonPath ?? undefined,
      });
      say(`bench pgbench: wrote ${files.json}, ${files.latestJson}, ${files.svg}, ${files.markdown}`);
    }
    return { result, files };
  } finally {
    await cleanup();
    unregister();
  }
}

async function startTarget(
  name: PgbenchTargetName,
  backend: PgEndpoint,
  o: PgbenchOptions,
  started: PgTarget[],
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
  started.push(target);
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
  say: (l: string) => void,
) {
  if (o.warmupS <= 0) return;
  const clients = Math.min(Math.max(...o.clients), 16);
  for (const t of targets) {
    const status = statuses.get(t.name);
    if (status?.status !== 'ok') continue;
    const mode = o.modes.find((m) => !(m in t.unsupportedModes)) ?? 'simple';
    const r = await runPgbench({ endpoint: t, mode, clients, durationS: o.warmupS, script: o.script });
    if (!r.ok) {
      status.status = 'failed';
      status.note = `warm-up failed: ${r.error}`;
      say(`bench pgbench: ${t.name}: warm-up failed, leaving it out: ${r.error}`);
    }
  }
}

async function measure(
  targets: PgTarget[],
  o: PgbenchOptions,
  say: (l: string) => void,
): Promise<PgbenchRun[]> {
  const runs: PgbenchRun[] = [];
  for (const mode of o.modes) {
    for (const clients of o.clients) {
      for (let repeat = 0; repeat < o.repeats; repeat++) {
        const order = rotation(targets, repeat);
        const line: string[] = [];
        for (const [position, t] of order.entries()) {
          if (mode in t.unsupportedModes) continue;
          const startedAt = new Date().toISOString();
          const loadavg1 = loadSnapshot().loadavg[0];
          const r = await runPgbench({
            endpoint: t,
            mode,
            clients,
            durationS: o.durationS,
            script: o.script,
          });
          const run: PgbenchRun = {
            target: t.name,
            mode,
            clients,
            repeat,
            order: position,
            startedAt,
            loadavg1,
            figures: r.ok ? r.figures : null,
          };
          if (!r.ok) run.error = r.error;
          runs.push(run);
          line.push(r.ok ? `${t.name} ${r.figures.tps.toFixed(0)} tps` : `${t.name} failed`);
        }
        say(`  ${mode} c=${clients} #${repeat + 1}: ${line.join(', ')}`);
      }
    }
  }
  return runs;
}
