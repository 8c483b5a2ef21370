// The sysbench scenario (MySQL side): one private MariaDB primary from the local launcher,
// sysbench's OLTP scripts against it directly and through shardgate's MySQL port, targets
// alternating inside each repeat and rotating between repeats; medians with min-max. shardgate is
// guarded by a capability check: a build without a MySQL front end is reported and skipped, and
// direct is still measured. sysbench is apt-get installed on demand. Servers stop on exit/Ctrl-C.
import { startMariadbCluster } from '../../src/local/mariadb-cluster.js';
import { ensureCommand } from '../lib/apt.js';
import { runScenario, type ScenarioOutput } from '../lib/scenario.js';
import { optionValues } from '../lib/scenario-options.js';
import { startShardgateMysql } from '../lib/shardgate-mysql.js';
import { type MysqlEndpoint, runSysbench, sysbenchEndpoints, sysbenchPrepare } from '../lib/sysbench.js';
import { describeTargetStatus, measureAlternating, warmUpTargets } from '../lib/target-runs.js';
import { tpsResult } from '../lib/tps-report.js';
import { estimateSysbenchSeconds, type SysbenchOptions } from './sysbench-options.js';
import type { SysbenchResult, SysbenchRun, SysbenchTargetStatus } from './sysbench-report.js';
import * as report from './sysbench-report.js';

export type SysbenchOutput = ScenarioOutput<SysbenchResult>;

const DATABASE = 'sbtest';
/** sysbench logs in with these on both targets (created on MariaDB, configured in shardgate). */
const CLIENT = { user: 'sbtest', password: 'sbtest' };

interface RunningTarget {
  name: string;
  endpoint: MysqlEndpoint;
  stop(): Promise<void>;
}

export function runSysbenchScenario(o: SysbenchOptions): Promise<SysbenchOutput> {
  const say = o.say;
  return runScenario('sysbench', say, async (run) => {
    const started: RunningTarget[] = [];
    const tool = await ensureCommand({ command: 'sysbench', pkg: 'sysbench', say, noInstall: o.noInstall });
    if (!tool.ok) throw new Error(`sysbench is needed for this scenario: ${tool.note ?? 'not installed'}`);
    const { machine, before } = await run.measureMachine({ sysbench: ['sysbench', '--version'] });
    run.tell('starting a private MariaDB primary ...');
    const maxThreads = Math.max(...o.threads);
    const cluster = run.track(
      await startMariadbCluster({
        shards: 1,
        replicasPerShard: 0,
        database: DATABASE,
        settings: { max_connections: 100 + maxThreads * 2 + o.poolSize * (o.workers + 1) },
      }),
    );
    const { direct, root } = await sysbenchEndpoints(cluster, DATABASE, CLIENT);
    const [v] = await cluster.query<{ v: string }>(cluster.shards[0]!.primary.name, 'SELECT VERSION() AS v');
    machine.versions.mariadb = v ? `MariaDB ${v.v}` : null;
    run.tell(
      `${machine.versions.mariadb} on ${direct.host}:${direct.port}; preparing ${o.tables} x ${o.tableSize} rows ...`,
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
        started.push(run.track({ name, endpoint: direct, stop: async () => undefined }));
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
          started.push(run.track({ name, endpoint: sg.target.endpoint, stop: sg.target.stop }));
          statuses.push({ name, status: 'ok', version: sg.target.version });
        } else {
          statuses.push({ name, status: 'skipped', note: sg.note });
        }
      }
      run.tell(describeTargetStatus(statuses[statuses.length - 1] as SysbenchTargetStatus));
    }

    if (o.warmupS > 0) {
      await warmUpTargets(
        started,
        (name) => statuses.find((s) => s.name === name),
        (t) =>
          runSysbench({
            endpoint: t.endpoint,
            test: o.tests[0] ?? 'oltp_point_select',
            tables: o.tables,
            tableSize: o.tableSize,
            threads: Math.min(Math.max(...o.threads), 16),
            durationS: o.warmupS,
            psMode: o.psMode,
          }),
        (text) => run.tell(text),
      );
    }
    const active = started.filter((t) => statuses.find((s) => s.name === t.name)?.status === 'ok');
    run.tell(
      `measuring ${active.map((t) => t.name).join(', ')}; about ${Math.ceil(estimateSysbenchSeconds(o, active.length) / 60)} min`,
    );
    const runs = await measure(active, o);
    const header = await run.finishMeasuring(o.command, machine, before, ', expect noise');
    const parameters = {
      ...optionValues(o, [
        'tests',
        'threads',
        'durationS',
        'targets',
        'repeats',
        'warmupS',
        'tables',
        'tableSize',
        'psMode',
      ]),
      shardgateWorkers: o.workers,
      poolSize: o.poolSize,
      shardgateConfigExtra: o.shardgateConfigExtra,
      sharding:
        'sbtest1..N sharded by id (sysbench tables have no user_id), one MySQL shard owning the whole keyspace',
    };
    const parts = { parameters, targets: statuses, runs, notes: run.notes };
    return run.publish(tpsResult(header, parts, report.summarizeSysbench), o, report);
  });
}

function measure(targets: readonly RunningTarget[], o: SysbenchOptions): Promise<SysbenchRun[]> {
  return measureAlternating({
    cells: report.sysbenchCellKeys(o),
    repeats: o.repeats,
    targets,
    run: (t, { test, threads }) =>
      runSysbench({
        endpoint: t.endpoint,
        test,
        tables: o.tables,
        tableSize: o.tableSize,
        threads,
        durationS: o.durationS,
        psMode: o.psMode,
      }),
    label: ({ test, threads }) => `${test} threads=${threads}`,
    say: o.say,
  });
}
