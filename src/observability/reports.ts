// The seed's operational checklist as reports built from the live state and the stored history:
// daily (health, lag, alerts, backups), weekly (growth, top statements, p95 trend, pools, cache),
// monthly (rebalancing, scaling plan, baseline update). Unknown figures stay null or 'unknown'.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ArchiverStatus } from '../backend/pg-prober.js';
import type { Recommendation } from './advisor.js';
import type { DrTestRecord } from './dr-tests.js';
import type { ShardSample } from './history-sampler.js';
import type { HistoryStore } from './history-store.js';
import type { StatementStatRow } from './statement-stats.js';

export const REPORT_KINDS = ['daily', 'weekly', 'monthly'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

const DAY_MS = 86_400_000;
const PERIOD_MS: Record<ReportKind, number> = { daily: DAY_MS, weekly: 7 * DAY_MS, monthly: 30 * DAY_MS };

/** What a report reads from the running proxy. */
export interface ReportContext {
  store: HistoryStore;
  /** Where the p95 baseline file lives (the history directory). */
  dir: string;
  sizeThresholdBytes: number;
  shards: () => Array<{
    shard: string;
    servers: Array<{ name: string; role: string; up: boolean | null; lagSeconds: number | null }>;
    dataBytes: number | null;
    p95Seconds: number | null;
    archiver: ArchiverStatus | null;
  }>;
  firingAlerts: () => Array<{ alertname: string; shard: string; severity: string }>;
  topStatements: (limit: number) => StatementStatRow[];
  resultCache: () => { hits: number; misses: number } | null;
  imbalance: () => { score: number };
  splitAdvice: () => Array<{ shard: string; recommendation: Recommendation | null }>;
  /** The most recent recorded disaster-recovery test. */
  lastDrTest: () => Promise<DrTestRecord | null>;
  now?: () => number;
}

export interface Report {
  kind: ReportKind;
  generatedAt: string;
  from: string;
  to: string;
  sections: Record<string, unknown>;
}

/** storeBaseline: the monthly report writes the current p95s as the new baseline. */
export async function buildReport(
  kind: ReportKind,
  ctx: ReportContext,
  storeBaseline = false,
): Promise<Report> {
  const to = (ctx.now ?? Date.now)();
  const from = to - PERIOD_MS[kind];
  const samples = (await ctx.store.query({ type: 'shard', from, to, limit: 200_000 })) as ShardSample[];
  const sections =
    kind === 'daily'
      ? await daily(ctx, samples, from, to)
      : kind === 'weekly'
        ? await weekly(ctx, samples, from)
        : await monthly(ctx, samples, storeBaseline);
  return {
    kind,
    generatedAt: new Date(to).toISOString(),
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    sections,
  };
}

function byShard(samples: readonly ShardSample[]): Map<string, ShardSample[]> {
  const out = new Map<string, ShardSample[]>();
  for (const s of samples) {
    const list = out.get(s.shard) ?? [];
    list.push(s);
    out.set(s.shard, list);
  }
  return out;
}

function stat(values: Array<number | null>): { mean: number | null; max: number | null } {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length === 0) return { mean: null, max: null };
  return { mean: v.reduce((a, b) => a + b, 0) / v.length, max: Math.max(...v) };
}

async function daily(ctx: ReportContext, samples: ShardSample[], from: number, to: number) {
  const history = byShard(samples);
  const alerts = await ctx.store.query({ type: 'alert', from, to, limit: 1_000 });
  const firing = ctx.firingAlerts();
  const shards = ctx.shards();
  return {
    health: shards.map((s) => ({
      shard: s.shard,
      status: s.servers.some((x) => x.up === false)
        ? 'degraded'
        : firing.some((a) => a.shard === s.shard)
          ? 'alerting'
          : s.servers.every((x) => x.up === true)
            ? 'healthy'
            : 'unknown',
      serversUp: s.servers.filter((x) => x.up === true).length,
      servers: s.servers.length,
      dataBytes: s.dataBytes,
      p95Seconds: s.p95Seconds,
      firingAlerts: firing.filter((a) => a.shard === s.shard).map((a) => a.alertname),
    })),
    replication: shards.flatMap((s) =>
      s.servers
        .filter((x) => x.role === 'replica')
        .map((x) => ({
          shard: s.shard,
          replica: x.name,
          lagSeconds: x.lagSeconds,
          maxLagSecondsInPeriod: stat((history.get(s.shard) ?? []).map((h) => h.lagSeconds)).max,
        })),
    ),
    alerts: alerts.map((a) => ({
      at: new Date(a.t).toISOString(),
      status: a.status,
      alertname: a.alertname,
      severity: a.severity,
      shard: a.shard,
      summary: a.summary,
    })),
    backups: shards.map((s) => backupStatus(s.shard, s.archiver)),
  };
}

/** What pg_stat_archiver shows; the last base backup is not visible to the server: unknown. */
function backupStatus(shard: string, a: ArchiverStatus | null) {
  if (!a) return { shard, status: 'unknown', lastBaseBackup: 'unknown' };
  const archiving = a.archiveMode !== 'off';
  const failing =
    a.lastFailedAt !== null &&
    (a.lastArchivedAt === null || Date.parse(a.lastFailedAt) > Date.parse(a.lastArchivedAt));
  return {
    shard,
    status: !archiving ? 'archiving off' : failing ? 'archiving failing' : 'archiving ok',
    archiveMode: a.archiveMode,
    archivedCount: a.archivedCount,
    lastArchivedAt: a.lastArchivedAt,
    failedCount: a.failedCount,
    lastFailedAt: a.lastFailedAt,
    lastBaseBackup: 'unknown',
  };
}

/** Least-squares bytes per day over the samples that know the size; null with fewer than two. */
export function growthPerDay(samples: readonly ShardSample[]): number | null {
  const pts = samples.filter((s) => s.dataBytes !== null).map((s) => [s.t / DAY_MS, s.dataBytes!] as const);
  if (pts.length < 2) return null;
  const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
  const my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  let num = 0;
  let den = 0;
  for (const [x, y] of pts) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den > 0 ? num / den : null;
}

function growth(history: Map<string, ShardSample[]>) {
  return [...history].map(([shard, list]) => {
    const sized = list.filter((s) => s.dataBytes !== null);
    const first = sized[0]?.dataBytes ?? null;
    const last = sized.at(-1)?.dataBytes ?? null;
    return {
      shard,
      startBytes: first,
      endBytes: last,
      changeBytes: first !== null && last !== null ? last - first : null,
      bytesPerDay: growthPerDay(list),
      rowsEstimate: sized.at(-1)?.rowsEstimate ?? null,
    };
  });
}

async function weekly(ctx: ReportContext, samples: ShardSample[], from: number) {
  const history = byShard(samples);
  const before = byShard(
    (await ctx.store.query({
      type: 'shard',
      from: from - PERIOD_MS.weekly,
      to: from - 1,
      limit: 200_000,
    })) as ShardSample[],
  );
  const cache = ctx.resultCache();
  return {
    growth: growth(history),
    topStatements: ctx.topStatements(10).map((q) => ({
      query: q.query,
      calls: q.calls,
      totalMs: q.totalMs,
      meanMs: q.meanMs,
      shards: Object.keys(q.shards).length,
    })),
    latencyTrend: [...history].map(([shard, list]) => {
      const now = stat(list.map((s) => s.p95Seconds)).mean;
      const prev = stat((before.get(shard) ?? []).map((s) => s.p95Seconds)).mean;
      return {
        shard,
        p95Seconds: now,
        previousWeekP95Seconds: prev,
        change: now !== null && prev !== null && prev > 0 ? now / prev - 1 : null,
        meanQps: stat(list.map((s) => s.qps)).mean,
      };
    }),
    pools: [...history].map(([shard, list]) => ({
      shard,
      meanUse: stat(list.map((s) => s.poolUse)).mean,
      maxUse: stat(list.map((s) => s.poolUse)).max,
      maxWaiting: stat(list.map((s) => s.poolWaiting)).max,
    })),
    cache: {
      bufferHitRate: [...history].map(([shard, list]) => ({
        shard,
        hitRate: list.at(-1)?.bufferHitRate ?? null,
      })),
      resultCacheHitRate:
        cache && cache.hits + cache.misses > 0 ? cache.hits / (cache.hits + cache.misses) : null,
    },
  };
}

interface Baseline {
  at: string;
  p95Seconds: Record<string, number | null>;
}

async function monthly(ctx: ReportContext, samples: ShardSample[], storeBaseline: boolean) {
  const history = byShard(samples);
  const now = (ctx.now ?? Date.now)();
  const shards = ctx.shards();
  const file = path.join(ctx.dir, 'baseline.json');
  const previous = await readFile(file, 'utf8').then(
    (t) => JSON.parse(t) as Baseline,
    () => null,
  );
  const current: Baseline = {
    at: new Date(now).toISOString(),
    p95Seconds: Object.fromEntries(shards.map((s) => [s.shard, s.p95Seconds])),
  };
  if (storeBaseline) await writeFile(file, `${JSON.stringify(current)}\n`);
  const imbalance = ctx.imbalance();
  const drTest = await ctx.lastDrTest();
  return {
    rebalancing: {
      imbalanceScore: imbalance.score,
      splits: ctx.splitAdvice().map((a) => ({
        shard: a.shard,
        advice: a.recommendation?.message ?? null,
        command: a.recommendation?.command ?? null,
      })),
    },
    scalingPlan: shards.map((s) => {
      const rate = growthPerDay(history.get(s.shard) ?? []);
      const size = s.dataBytes;
      const days =
        size === null || rate === null
          ? null
          : size >= ctx.sizeThresholdBytes
            ? 0
            : rate > 0
              ? (ctx.sizeThresholdBytes - size) / rate
              : null;
      return {
        shard: s.shard,
        dataBytes: size,
        bytesPerDay: rate,
        thresholdBytes: ctx.sizeThresholdBytes,
        daysUntilThreshold: days,
        action:
          days === null
            ? 'no growth measured'
            : days <= 30
              ? `split or scale shard ${s.shard} within ${Math.floor(days)} days`
              : 'none this month',
      };
    }),
    disasterRecoveryTest:
      drTest === null
        ? 'none recorded'
        : {
            at: new Date(drTest.t).toISOString(),
            daysAgo: Math.floor((now - drTest.t) / DAY_MS),
            outcome: drTest.outcome,
            note: drTest.note,
          },
    baseline: { stored: storeBaseline, previous, current },
  };
}
