// Benchmark library: statistics, target rotation, charts, pgbench output parsing, generated
// configs for the comparison targets, and the report built from synthetic runs (no timing).
import { describe, expect, it } from 'vitest';
import { rotation, schedule } from '../../bench/lib/alternate.js';
import { choiceListOption, choiceOption, intListOption } from '../../bench/lib/cli-args.js';
import { LatencyRecorder } from '../../bench/lib/hdr.js';
import { loadSnapshot, type MachineInfo } from '../../bench/lib/machine.js';
import { parsePgbenchOutput, pgbenchArgs } from '../../bench/lib/pgbench.js';
import {
  parseVersion,
  pgbouncerIni,
  supportsPreparedStatements,
  userlist,
} from '../../bench/lib/pgbouncer.js';
import { pgpoolConf } from '../../bench/lib/pgpool.js';
import { outputDigest, systemUser } from '../../bench/lib/proc.js';
import { fileTimestamp, fmtSpread, formatTable, markdownTable, toJson } from '../../bench/lib/report.js';
import { deepMerge, shardgateBenchConfig } from '../../bench/lib/shardgate-process.js';
import { max, median, min, percentile, ratio, stddev, summarize } from '../../bench/lib/stats.js';
import { barChart, escapeXml, lineChart, niceTicks } from '../../bench/lib/svg-chart.js';
import { resolveOptions } from '../../bench/scenarios/pgbench-command.js';
import {
  consoleReport,
  markdownReport,
  type PgbenchResult,
  type PgbenchRun,
  summarizeCells,
  svgReport,
  type TargetStatus,
} from '../../bench/scenarios/pgbench-report.js';
import { configSchema } from '../../src/config/schema.js';

describe('stats', () => {
  it('median of odd and even counts, ignoring NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, Number.NaN, 1])).toBe(3);
    expect(median([])).toBeNaN();
  });

  it('min, max, stddev and summary', () => {
    expect(min([3, 1, 2])).toBe(1);
    expect(max([3, 1, 2])).toBe(3);
    expect(stddev([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138, 3);
    expect(stddev([7])).toBe(0);
    expect(summarize([10, 30, 20])).toEqual({ n: 3, median: 20, min: 10, max: 30, mean: 20 });
  });

  it('percentiles interpolate between ranks and p50 is the median', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(values, 0)).toBe(1);
    expect(percentile(values, 100)).toBe(10);
    expect(percentile(values, 50)).toBe(median(values));
    expect(percentile(values, 90)).toBeCloseTo(9.1, 10);
    expect(percentile([], 50)).toBeNaN();
  });

  it('ratio is NaN when a side is missing or zero', () => {
    expect(ratio(50, 100)).toBe(0.5);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(Number.NaN, 1)).toBeNaN();
  });
});

describe('alternation', () => {
  it('rotates the order between repeats', () => {
    expect(schedule(['A', 'B', 'C'], 4)).toEqual([
      ['A', 'B', 'C'],
      ['B', 'C', 'A'],
      ['C', 'A', 'B'],
      ['A', 'B', 'C'],
    ]);
    expect(rotation([], 3)).toEqual([]);
  });

  it('every target runs at every position equally often over n repeats', () => {
    const targets = ['direct', 'shardgate', 'pgbouncer', 'pgpool'];
    const rounds = schedule(targets, targets.length);
    for (const t of targets) {
      const positions = rounds.map((r) => r.indexOf(t)).sort();
      expect(positions).toEqual([0, 1, 2, 3]);
    }
  });
});

describe('latency recorder', () => {
  it('reports percentiles in milliseconds', () => {
    const rec = new LatencyRecorder();
    for (let i = 1; i <= 1000; i++) rec.recordMs(i / 10);
    rec.recordMs(Number.NaN);
    const s = rec.summary();
    expect(s.count).toBe(1000);
    expect(s.p50Ms).toBeCloseTo(50, 0);
    expect(s.p99Ms).toBeCloseTo(99, 0);
    expect(s.maxMs).toBeCloseTo(100, 0);
    const other = new LatencyRecorder();
    other.recordMs(1);
    rec.add(other);
    expect(rec.count).toBe(1001);
    rec.destroy();
    other.destroy();
  });
});

describe('svg charts', () => {
  it('nice ticks cover the maximum with round steps', () => {
    expect(niceTicks(9500)).toEqual([0, 2000, 4000, 6000, 8000, 10000]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });

  it('draws one bar per present value, whiskers, and escapes text', () => {
    const svg = barChart({
      title: 'tps <direct & proxy>',
      yLabel: 'tps',
      series: ['direct', 'shardgate'],
      groups: [
        { label: 'simple\n1 client', values: [{ value: 1000, low: 900, high: 1100 }, { value: 600 }] },
        { label: 'simple\n16 clients', values: [{ value: 5000 }, undefined] },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect((svg.match(/<rect [^>]*><title>/g) ?? []).length).toBe(3);
    expect(svg).toContain('tps &lt;direct &amp; proxy&gt;');
    expect(svg).toContain('n/a');
    expect(svg).not.toContain('NaN');
    expect(escapeXml('"a"<')).toBe('&quot;a&quot;&lt;');
  });

  it('line chart draws a path per series', () => {
    const svg = lineChart({
      title: 'latency',
      xLabel: 's',
      yLabel: 'ms',
      series: [
        {
          name: 'p99',
          points: [
            { x: 0, y: 1 },
            { x: 1, y: 2 },
            { x: 2, y: 1.5 },
          ],
        },
        { name: 'empty', points: [] },
      ],
    });
    expect((svg.match(/<path /g) ?? []).length).toBe(1);
    expect(svg).not.toContain('NaN');
  });
});

describe('pgbench output', () => {
  const pg15 = `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 10
query mode: prepared
number of clients: 16
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 243210
number of failed transactions: 0 (0.000%)
latency average = 0.655 ms
latency stddev = 0.041 ms
initial connection time = 33.413 ms
tps = 24321.006903 (without initial connection time)
`;

  it('reads tps, latency and counts', () => {
    expect(parsePgbenchOutput(pg15)).toEqual({
      tps: 24321.006903,
      latencyAvgMs: 0.655,
      latencyStddevMs: 0.041,
      transactions: 243210,
      failedTransactions: 0,
      initialConnectionMs: 33.413,
    });
  });

  it('reads the pre-14 format and reports a missing tps as null', () => {
    const old =
      'latency average = 1.5 ms\ntps = 900.1 (including connections establishing)\ntps = 950.2 (excluding connections establishing)\n';
    expect(parsePgbenchOutput(old)?.tps).toBe(950.2);
    expect(parsePgbenchOutput('pgbench: error: connection refused')).toBeNull();
  });

  it('builds the command line with -j = min(clients, 2)', () => {
    const endpoint = { host: '127.0.0.1', port: 5555, user: 'postgres', database: 'bench' };
    expect(pgbenchArgs({ endpoint, mode: 'extended', clients: 64, durationS: 5, script: 'select' })).toEqual([
      '-h',
      '127.0.0.1',
      '-p',
      '5555',
      '-U',
      'postgres',
      '-S',
      '-T',
      '5',
      '-c',
      '64',
      '-j',
      '2',
      '-M',
      'extended',
      '-n',
      'bench',
    ]);
    const tpcb = pgbenchArgs({ endpoint, mode: 'simple', clients: 1, durationS: 2, script: 'tpcb' });
    expect(tpcb).not.toContain('-S');
    expect(tpcb[tpcb.indexOf('-j') + 1]).toBe('1');
  });
});

describe('comparison target configs', () => {
  const backend = { host: '127.0.0.1', port: 5999, user: 'postgres', database: 'bench' };

  it('pgbouncer ini: transaction pooling, prepared statements only when supported', () => {
    const ini = pgbouncerIni({
      listenPort: 7000,
      backend,
      dir: '/tmp/x',
      poolSize: 20,
      maxClientConn: 500,
      maxPreparedStatements: 200,
    });
    expect(ini).toContain('bench = host=127.0.0.1 port=5999 dbname=bench user=postgres');
    expect(ini).toContain('listen_addr = 127.0.0.1');
    expect(ini).toContain('pool_mode = transaction');
    expect(ini).toContain('max_prepared_statements = 200');
    expect(ini).toContain('ignore_startup_parameters = extra_float_digits,options');
    const old = pgbouncerIni({
      listenPort: 7000,
      backend,
      dir: '/tmp/x',
      poolSize: 20,
      maxClientConn: 500,
      maxPreparedStatements: 0,
    });
    expect(old).not.toContain('max_prepared_statements');
    expect(userlist(['postgres'])).toBe('"postgres" ""\n');
  });

  it('pgbouncer version gate for prepared statements', () => {
    expect(parseVersion('PgBouncer 1.18.0')).toEqual([1, 18, 0]);
    expect(supportsPreparedStatements(parseVersion('PgBouncer 1.18.0'))).toBe(false);
    expect(supportsPreparedStatements(parseVersion('PgBouncer 1.21.0'))).toBe(true);
    expect(supportsPreparedStatements(null)).toBe(false);
  });

  it('pgpool conf: raw mode on one backend, sized for the clients', () => {
    const conf = pgpoolConf({ port: 7001, pcpPort: 7002, dir: "/tmp/it's", backend, children: 68 });
    expect(conf).toContain("backend_clustering_mode = 'raw'");
    expect(conf).toContain('backend_port0 = 5999');
    expect(conf).toContain('num_init_children = 68');
    expect(conf).toContain("unix_socket_directories = '/tmp/it''s'");
  });

  it('the generated shardgate config passes the real config schema', () => {
    const raw = shardgateBenchConfig({
      postgresPort: 7003,
      adminPort: 7004,
      backend,
      benchUser: 'postgres',
      workers: 2,
    });
    const config = configSchema.parse(raw);
    expect(config.pool.mode).toBe('transaction');
    expect(config.pool.size).toBe(20);
    expect(config.workers).toBe(2);
    expect(config.shards).toHaveLength(1);
    expect(config.shards[0]?.primary.port).toBe(5999);
    expect(config.users[0]).toMatchObject({ name: 'postgres', auth: 'trust' });
    const off = configSchema.parse(
      shardgateBenchConfig({
        postgresPort: 1,
        adminPort: 2,
        backend,
        benchUser: 'postgres',
        workers: 1,
        extra: { routing: { enabled: false } },
      }),
    );
    expect(off.routing.enabled).toBe(false);
    expect(off.listen.postgres.port).toBe(1);
  });

  it('deepMerge merges objects and replaces arrays and scalars', () => {
    expect(deepMerge({ a: { b: 1, c: [1] }, d: 1 }, { a: { c: [2] }, d: { e: 1 } })).toEqual({
      a: { b: 1, c: [2] },
      d: { e: 1 },
    });
  });

  it('digests a failed process output to its error line', () => {
    expect(outputDigest('starting\nError [ERR_MODULE_NOT_FOUND]: no x\n    at y\n')).toBe(
      'Error [ERR_MODULE_NOT_FOUND]: no x',
    );
    expect(outputDigest('a\nb\nc\nd')).toBe('b | c | d');
  });

  it('finds system users in a passwd file', () => {
    expect(
      systemUser(
        'postgres',
        'root:x:0:0::/root:/bin/sh\npostgres:x:101:104::/var/lib/postgresql:/bin/bash\n',
      ),
    ).toEqual({
      name: 'postgres',
      uid: 101,
      gid: 104,
    });
    expect(systemUser('nobody-here', 'root:x:0:0::/root:/bin/sh\n')).toBeNull();
  });
});

describe('pgbench options', () => {
  it('quick preset under explicit options', () => {
    const o = resolveOptions({ quick: true, duration: 3, install: true, results: true }, 'cmd');
    expect(o.durationS).toBe(3);
    expect(o.clients).toEqual([1]);
    expect(o.modes).toEqual(['simple']);
    expect(o.repeats).toBe(1);
    expect(o.noInstall).toBe(false);
    expect(resolveOptions({ install: false, results: false }, 'cmd')).toMatchObject({
      noInstall: true,
      resultsDir: null,
      clients: [1, 16, 64],
    });
  });

  it('lists are validated', () => {
    expect(intListOption('--clients', 1, 1000)('1, 16,16,64')).toEqual([1, 16, 64]);
    expect(() => intListOption('--clients', 1, 1000)('0')).toThrow(
      /--clients: values are integers from 1 to 1000/,
    );
    expect(choiceListOption('--targets', ['direct', 'pgbouncer', 'pgpool'])('direct,pgbouncer')).toEqual([
      'direct',
      'pgbouncer',
    ]);
    expect(() => choiceListOption('--targets', ['direct'])('direct,nope')).toThrow(/unknown value "nope"/);
    expect(() => choiceOption('--script', ['select', 'tpcb'])('select,tpcb')).toThrow(/give one of/);
  });
});

describe('pgbench report', () => {
  /** The proxies are processes of their own: their CPU per transaction is measured. */
  const cpuOf: Record<string, number> = { shardgate: 90, pgbouncer: 35 };
  const figures = (tps: number, target: string) => ({
    tps,
    latencyAvgMs: 1000 / tps,
    latencyStddevMs: null,
    transactions: tps * 2,
    failedTransactions: 0,
    initialConnectionMs: 1,
    cpuUsPerTx: cpuOf[target] ?? null,
  });
  const run = (
    target: string,
    repeat: number,
    tps: number | null,
    mode: 'simple' | 'prepared' = 'simple',
  ): PgbenchRun => ({
    target,
    mode,
    clients: 1,
    repeat,
    order: 0,
    startedAt: '2026-01-01T00:00:00.000Z',
    loadavg1: 0.5,
    figures: tps === null ? null : figures(tps, target),
    ...(tps === null ? { error: 'pgbench exited 2' } : {}),
  });
  const targets: TargetStatus[] = [
    { name: 'direct', status: 'ok', unsupportedModes: {} },
    { name: 'shardgate', status: 'ok', unsupportedModes: {} },
    {
      name: 'pgbouncer',
      status: 'ok',
      unsupportedModes: { prepared: 'PgBouncer 1.18.0 has no prepared statements' },
    },
    { name: 'pgpool', status: 'skipped', note: 'apt-get install pgpool2 failed', unsupportedModes: {} },
  ];
  const runs = [
    run('direct', 0, 1000),
    run('direct', 1, 1200),
    run('direct', 2, 1100),
    run('shardgate', 0, 500),
    run('shardgate', 1, null),
    run('shardgate', 2, 600),
    run('pgbouncer', 0, 800),
    run('pgbouncer', 1, 800),
    run('pgbouncer', 2, 900),
    run('direct', 0, 2000, 'prepared'),
  ];
  const cells = summarizeCells(runs, { modes: ['simple', 'prepared'], clients: [1] }, targets);

  it('medians, min-max, errors and ratios per cell', () => {
    const simple = cells[0];
    expect(simple?.targets.direct?.tps).toMatchObject({ n: 3, median: 1100, min: 1000, max: 1200 });
    expect(simple?.targets.shardgate?.tps).toMatchObject({ n: 2, median: 550 });
    expect(simple?.targets.shardgate?.errors).toBe(1);
    expect(simple?.ratios['shardgate/direct']).toBeCloseTo(0.5, 10);
    expect(simple?.ratios['shardgate/pgbouncer']).toBeCloseTo(550 / 800, 10);
    expect(simple?.ratios['pgpool/direct']).toBeNull();
    expect(simple?.targets.pgpool?.note).toContain('pgpool2');
    expect(cells[1]?.targets.pgbouncer?.note).toContain('prepared');
    expect(cells[1]?.ratios['shardgate/direct']).toBeNull();
    expect(simple?.targets.shardgate?.cpuUsPerTx).toMatchObject({ n: 2, median: 90 });
    expect(simple?.targets.direct?.cpuUsPerTx.n).toBe(0);
  });

  it('renders the console table, Markdown, SVG and JSON', () => {
    const machine: MachineInfo = {
      hostname: 'h',
      cpus: 2,
      cpuModel: 'Test CPU',
      memoryBytes: 2 ** 34,
      os: 'Debian',
      kernel: '6',
      arch: 'x64',
      node: 'v20',
      versions: { pgbench: 'pgbench 15', postgresql: 'PostgreSQL 15.20' },
    };
    const result: PgbenchResult = {
      scenario: 'pgbench',
      schemaVersion: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:01:00.000Z',
      command: 'node dist/bench/main.js pgbench --quick',
      machine,
      load: { before: loadSnapshot(), after: loadSnapshot() },
      parameters: {
        durationS: 2,
        clients: [1],
        modes: ['simple', 'prepared'],
        targets: ['direct', 'shardgate', 'pgbouncer', 'pgpool'],
        repeats: 3,
        scale: 1,
        script: 'select',
        warmupS: 0,
        shardgateWorkers: 2,
        shardgateConfigExtra: null,
        poolSize: 20,
      },
      targets,
      runs,
      cells,
      notes: [],
    };
    const text = consoleReport(result);
    expect(text).toContain('1100 [1000-1200]');
    expect(text).toContain('0.50');
    expect(text).toContain('shardgate cpu µs/tx');
    expect(text).toContain('pgbouncer cpu µs/tx');
    expect(text).not.toContain('direct cpu');
    expect(text).toContain('pgpool: skipped: apt-get install pgpool2 failed');
    expect(text).toContain('pgbouncer: prepared mode not run');
    const md = markdownReport(result);
    expect(md).toContain('| mode | clients |');
    expect(md).toContain('![pgbench median TPS per target](bench/results/pgbench-latest.svg)');
    expect(md).toContain('`node dist/bench/main.js pgbench --quick`');
    const svg = svgReport(result);
    expect((svg.match(/<rect [^>]*><title>/g) ?? []).length).toBe(4);
    const json = JSON.parse(toJson(result)) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(
      expect.arrayContaining(['machine', 'load', 'parameters', 'runs', 'cells', 'targets']),
    );
  });
});

describe('report helpers', () => {
  it('tables align columns and Markdown escapes pipes', () => {
    expect(
      formatTable(
        ['a', 'bb'],
        [
          ['x', '1'],
          ['yyy', '22'],
        ],
      ),
    ).toBe('a    bb\n---  --\nx     1\nyyy  22');
    expect(markdownTable(['a', 'b'], [['x|y', '1']])).toBe('| a | b |\n| --- | ---: |\n| x\\|y | 1 |');
    expect(fmtSpread(1100, 1000, 1200)).toBe('1100 [1000-1200]');
    expect(fmtSpread(Number.NaN, 1, 2)).toBe('-');
    expect(fileTimestamp(new Date('2026-11-01T03:49:28.123Z'))).toBe('2026-11-01T03-49-28Z');
    expect(toJson({ a: Number.NaN })).toBe('{\n  "a": null\n}\n');
  });
});
