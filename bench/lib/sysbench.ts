// Running sysbench's OLTP scripts against a MySQL-protocol endpoint and reading its summary.
// sysbench's own figures are used (transactions and queries per second, latency including its
// 99th percentile), so direct and proxied runs are measured the same way.
import type { MariadbCluster } from '../../src/local/mariadb-cluster.js';
import { runCommand } from './proc.js';

export const SYSBENCH_TESTS = ['oltp_point_select', 'oltp_read_only', 'oltp_read_write'] as const;
export type SysbenchTest = (typeof SYSBENCH_TESTS)[number];
/** sysbench --db-ps-mode: server-side prepared statements (auto) or text protocol (disable). */
export const SYSBENCH_PS_MODES = ['disable', 'auto'] as const;
export type SysbenchPsMode = (typeof SYSBENCH_PS_MODES)[number];

export interface MysqlEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/**
 * Creates sysbench's user on the first shard's primary of `cluster` with every right on
 * `database`; returns that endpoint (`direct`) and root's (`root`, the backend user shardgate gets).
 */
export async function sysbenchEndpoints(
  cluster: MariadbCluster,
  database: string,
  client: { user: string; password: string },
): Promise<{ direct: MysqlEndpoint; root: MysqlEndpoint }> {
  const primary = cluster.shards[0]?.primary;
  if (!primary) throw new Error('the MariaDB launcher returned no primary');
  await cluster.query(
    primary.name,
    `CREATE USER IF NOT EXISTS '${client.user}'@'127.0.0.1' IDENTIFIED BY '${client.password}'`,
  );
  await cluster.query(primary.name, `GRANT ALL ON ${database}.* TO '${client.user}'@'127.0.0.1'`);
  const direct: MysqlEndpoint = { host: primary.host, port: primary.port, ...client, database };
  return { direct, root: { ...direct, user: 'root', password: '' } };
}

export interface SysbenchFigures {
  tps: number;
  qps: number;
  latencyAvgMs: number;
  latencyP99Ms: number | null;
  latencyMaxMs: number | null;
  transactions: number | null;
  ignoredErrors: number | null;
  reconnects: number | null;
}

const num = (re: RegExp, text: string, group = 1): number | null => {
  const m = re.exec(text);
  const g = m?.[group];
  if (g === undefined) return null;
  const v = Number(g);
  return Number.isFinite(v) ? v : null;
};

/** Reads sysbench 1.0's summary; null when it has no transactions line (the run failed). */
export function parseSysbenchOutput(text: string): SysbenchFigures | null {
  const tps = num(/^\s*transactions:\s+\d+\s+\(([0-9.]+) per sec\.\)/m, text);
  if (tps === null) return null;
  return {
    tps,
    qps: num(/^\s*queries:\s+\d+\s+\(([0-9.]+) per sec\.\)/m, text) ?? Number.NaN,
    latencyAvgMs: num(/^\s*avg:\s+([0-9.]+)/m, text) ?? Number.NaN,
    latencyP99Ms: num(/^\s*99th percentile:\s+([0-9.]+)/m, text),
    latencyMaxMs: num(/^\s*max:\s+([0-9.]+)/m, text),
    transactions: num(/^\s*transactions:\s+(\d+)/m, text),
    ignoredErrors: num(/^\s*ignored errors:\s+(\d+)/m, text),
    reconnects: num(/^\s*reconnects:\s+(\d+)/m, text),
  };
}

export interface SysbenchSpec {
  endpoint: MysqlEndpoint;
  test: SysbenchTest;
  tables: number;
  tableSize: number;
  threads: number;
  durationS: number;
  psMode: SysbenchPsMode;
}

export function sysbenchArgs(spec: SysbenchSpec, command: 'prepare' | 'run' | 'cleanup'): string[] {
  const e = spec.endpoint;
  return [
    spec.test,
    '--db-driver=mysql',
    `--mysql-host=${e.host}`,
    `--mysql-port=${e.port}`,
    `--mysql-user=${e.user}`,
    `--mysql-password=${e.password}`,
    `--mysql-db=${e.database}`,
    `--tables=${spec.tables}`,
    `--table-size=${spec.tableSize}`,
    `--threads=${spec.threads}`,
    `--time=${spec.durationS}`,
    '--report-interval=0',
    '--percentile=99',
    `--db-ps-mode=${spec.psMode}`,
    command,
  ];
}

/** The first error-looking line of sysbench's output, or its last lines. */
function failure(stdout: string, stderr: string, timedOut: boolean): string {
  if (timedOut) return 'sysbench timed out';
  const text = `${stderr}\n${stdout}`;
  const line = text.split('\n').find((l) => /FATAL|error|failed/i.test(l));
  return (line ?? text.trim().split('\n').slice(-3).join(' | ')).trim().slice(0, 400);
}

export type SysbenchRunResult = { ok: true; figures: SysbenchFigures } | { ok: false; error: string };

/** `sysbench <test> ... prepare`: creates and fills sbtest1..N (run against the server, not a proxy). */
export async function sysbenchPrepare(spec: Omit<SysbenchSpec, 'threads' | 'durationS'>): Promise<void> {
  const args = sysbenchArgs({ ...spec, threads: 1, durationS: 1 }, 'prepare');
  const r = await runCommand('sysbench', args, { timeoutMs: 600_000, maxOutput: 100_000 });
  if (r.code !== 0) throw new Error(`sysbench prepare failed: ${failure(r.stdout, r.stderr, r.timedOut)}`);
}

export async function runSysbench(spec: SysbenchSpec): Promise<SysbenchRunResult> {
  const r = await runCommand('sysbench', sysbenchArgs(spec, 'run'), {
    timeoutMs: (spec.durationS + 60) * 1000,
    maxOutput: 200_000,
  });
  const figures = r.code === 0 ? parseSysbenchOutput(r.stdout) : null;
  if (!figures) return { ok: false, error: failure(r.stdout, r.stderr, r.timedOut) };
  return { ok: true, figures };
}
