// The sysbench scenario (MySQL side): one private MariaDB primary from the local launcher,
// sysbench's OLTP scripts against it directly and through shardgate's MySQL port, targets
// alternating inside each repeat and rotating between repeats; medians with min-max. shardgate is
// guarded by a capability check: a build without a MySQL front end is reported and skipped, and
// direct is still measured. sysbench is apt-get installed on demand. Servers stop on exit/Ctrl-C.
import { type MariadbCluster, startMariadbCluster } from '../../src/local/mariadb-cluster.js';
import { rotation } from '../lib/alternate.js';
import { ensureCommand } from '../lib/apt.js';
import { describeLoad, describeMachine, loadSnapshot, machineInfo } from '../lib/machine.js';
import { onInterrupt } from '../lib/proc.js';
import { fileTimestamp, type WrittenFiles, writeResultFiles } from '../lib/report.js';
import { startShardgateMysql } from '../lib/shardgate-mysql.js';
import { type MysqlEndpoint, runSysbench, sysbenchPrepare } from '../lib/sysbench.js';
import { estimateSysbenchSeconds, type SysbenchOptions } from './sysbench-options.js';
import {
  consoleReport,
  markdownReport,
  type SysbenchResult,
  type SysbenchRun,
  type SysbenchTargetStatus,
  summarizeSysbench,
  svgReport,
} from './sysbench-report.js';

export interface SysbenchOutput {
  result: SysbenchResult;
  files: WrittenFiles | null;
}

const DATABASE = 'sbtest';
/** sysbench logs in with these on both targets (created on MariaDB, configured in shardgate). */
const CLIENT = { user: 'sbtest', password: 'sbtest' };

interface RunningTarget {
  name: string;
  endpoint: MysqlEndpoint;
  stop(): Promise<void>;
}

export async function runSysbenchScenario(o: SysbenchOptions): Promise<SysbenchOutput> {
  const say = o.say;
  const startedAt = new Date();
  const notes: string[] = [];
  const started: RunningTarget[] = [];
  let cluster: MariadbCluster | null = null;
  const cleanup = async () => {
    for (const t of started.splice(0).reverse()) await t.stop().catch(() => undefined);
    const c = cluster;
    cluster = null;
    if (c) await c.stop().catch(() => undefined);
  };
  const unregister = onInterrupt(cleanup);
  try {
    const tool = await ensureCommand({ command: 'sysbench', pkg: 'sysbench', say, noInstall: o.noInstall });
    if (!tool.ok) throw new Error(`sysbench is needed for this scenario: ${tool.note ?? 'not installed'}`);
    const machine = await machineInfo({ sysbench: ['sysbench', '--version'] });
    const before = loadSnapshot();
    say(`bench sysbench: ${describeMachine(machine)}; ${describeLoad(before)}`);
    say('bench sysbench: starting a private MariaDB primary ...');
    const maxThreads = Math.max(...o.threads);
    cluster = await startMariadbCluster({
      shards: 1,
      replicasPerShard: 0,
      database: DATABASE,
      settings: { max_connections: 100 + maxThreads * 2 + o.poolSize * (o.workers + 1) },
    });
    const primary = cluster.shards[0]?.primary;
    if (!primary) throw new Error('the MariaDB launcher returned no primary');
    const [v] = await cluster.query<{ v: string }>(primary.name, 'SELECT VERSION() AS v');
    machine.versions.mariadb = v ? `MariaDB ${v.v}` : null;
    await cluster.query(
      primary.name,
      `CREATE USER IF NOT EXISTS '${CLIENT.user}'@'127.0.0.1' IDENTIFIED BY '${CLIENT.password}'`,
    );
    await cluster.query(primary.name, `GRANT ALL ON ${DATABASE}.* TO '${CLIENT.user}'@'127.0.0.1'`);
    const direct: MysqlEndpoint = { host: primary.host, port: primary.port, ...CLIENT, database: DATABASE };
    const root: MysqlEndpoint = {
      host: primary.host,
      port: primary.port,
      user: 'root',
      password: '',
      database: DATABASE,
    };
    say(
      `bench sysbench: ${machine.versions.mariadb} on ${primary.host}:${primary.port}; preparing ${o.tables} x ${o.tableSize} rows ...`,
    );
    await sysbenchPrepare({
      endpoint: direct,
      test: o.tests[0] ?? 'oltp_read_write',
      tables: o.tables,
      tableSize: o.tableSize,
      psMode: o.psMode,
    });

    const statuses: SysbenchTargetStatus[] = [];
    for (const name of o.targets) {
      if (name === 'direct') {
        started.push({ name, endpoint: direct, stop: async () => undefined });
        statuses.push({ name, status: 'ok', version: machine.versions.mariadb ?? undefined });
      } else {
        const sg = await startShardgateMysql({
          backend: root,
          client: CLIENT,
          tables: o.tables,
          workers: o.workers,
          poolSize: o.poolSize,
          extra: o.shardgateConfigExtra ?? undefined,
        }).catch((err: unknown) => ({
          ok: false as const,
          note: err instanceof Error ? err.message : String(err),
        }));
        if (sg.ok) {
          started.push({ name, endpoint: sg.target.endpoint, stop: sg.target.stop });
          statuses.push({ name, status: 'ok', version: sg.target.version });
        } else {
          statuses.push({ name, status: 'skipped', note: sg.note });
        }
      }
      const s = statuses[statuses.length - 1] as SysbenchTargetStatus;
      say(
        `bench sysbench: ${s.name}: ${s.status}${s.version ? ` (${s.version})` : ''}${s.note ? `: ${s.note}` : ''}`,
      );
    }

    await warmUp(started, statuses, o, say);
    const active = started.filter((t) => statuses.find((s) => s.name === t.name)?.status === 'ok');
    say(
      `bench sysbench: measuring ${active.map((t) => t.name).join(', ')}; about ${Math.ceil(estimateSysbenchSeconds(o, active.length) / 60)} min`,
    );
    const runs = await measure(active, o, say);
    const after = loadSnapshot();
    await cleanup();
    if (before.loadavg[0] > machine.cpus * 0.5) {
      notes.push(
        `the 1-minute load average was ${before.loadavg[0].toFixed(2)} on ${machine.cpus} cpus before the run: other work shared the machine, expect noise`,
      );
    }
    const parameters = {
      tests: o.tests,
      threads: o.threads,
      durationS: o.durationS,
      targets: o.targets,
      repeats: o.repeats,
      warmupS: o.warmupS,
      tables: o.tables,
      tableSize: o.tableSize,
      psMode: o.psMode,
      shardgateWorkers: o.workers,
      poolSize: o.poolSize,
      shardgateConfigExtra: o.shardgateConfigExtra,
      sharding:
        'sbtest1..N sharded by id (sysbench tables have no user_id), one MySQL shard owning the whole keyspace',
    };
    const result: SysbenchResult = {
      scenario: 'sysbench',
      schemaVersion: 1,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: o.command,
      machine,
      load: { before, after },
      parameters,
      targets: statuses,
      runs,
      cells: summarizeSysbench(runs, parameters, statuses),
      notes,
    };
    say(consoleReport(result));
    let files: WrittenFiles | null = null;
    if (o.resultsDir) {
      files = writeResultFiles({
        dir: o.resultsDir,
        scenario: 'sysbench',
        timestamp: fileTimestamp(startedAt),
        result,
        svg: svgReport(result),
        markdown: markdownReport(result),
        jsonPath: o.jsonPath ?? undefined,
      });
      say(`bench sysbench: wrote ${files.json}, ${files.latestJson}, ${files.svg}, ${files.markdown}`);
    }
    return { result, files };
  } finally {
    await cleanup();
    unregister();
  }
}

/** One short run per target so buffer pools, server connections and the proxy's caches are warm. */
async function warmUp(
  targets: readonly RunningTarget[],
  statuses: SysbenchTargetStatus[],
  o: SysbenchOptions,
  say: (line: string) => void,
): Promise<void> {
  if (o.warmupS <= 0) return;
  for (const t of targets) {
    const status = statuses.find((s) => s.name === t.name);
    if (status?.status !== 'ok') continue;
    const r = await runSysbench({
      endpoint: t.endpoint,
      test: o.tests[0] ?? 'oltp_point_select',
      tables: o.tables,
      tableSize: o.tableSize,
      threads: Math.min(Math.max(...o.threads), 16),
      durationS: o.warmupS,
      psMode: o.psMode,
    });
    if (!r.ok) {
      status.status = 'failed';
      status.note = `warm-up failed: ${r.error}`;
      say(`bench sysbench: ${t.name}: warm-up failed, leaving it out: ${r.error}`);
    }
  }
}

async function measure(
  targets: readonly RunningTarget[],
  o: SysbenchOptions,
  say: (line: string) => void,
): Promise<SysbenchRun[]> {
  const runs: SysbenchRun[] = [];
  for (const test of o.tests) {
    for (const threads of o.threads) {
      for (let repeat = 0; repeat < o.repeats; repeat++) {
        const line: string[] = [];
        for (const [order, t] of rotation(targets, repeat).entries()) {
          const startedAt = new Date().toISOString();
          const loadavg1 = loadSnapshot().loadavg[0];
          const r = await runSysbench({
            endpoint: t.endpoint,
            test,
            tables: o.tables,
            tableSize: o.tableSize,
            threads,
            durationS: o.durationS,
            psMode: o.psMode,
          });
          const run: SysbenchRun = {
            target: t.name,
            test,
            threads,
            repeat,
            order,
            startedAt,
            loadavg1,
            figures: r.ok ? r.figures : null,
          };
          if (!r.ok) run.error = r.error;
          runs.push(run);
          line.push(r.ok ? `${t.name} ${r.figures.tps.toFixed(0)} tps` : `${t.name} failed`);
        }
        say(`  ${test} threads=${threads} #${repeat + 1}: ${line.join(', ')}`);
      }
    }
  }
  return runs;
}
