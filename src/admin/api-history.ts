// /api/history?shard=&from=&to=&type=&limit= (stored per-shard samples and alert events; from and
// to are epoch ms or ISO times) and /api/reports/<daily|weekly|monthly>[?format=markdown].
import type { RuntimeTopology } from '../backend/pg-topology.js';
import { splitAdvice } from '../observability/advisor.js';
import type { DrTestLog } from '../observability/dr-tests.js';
import type { HistoryStore } from '../observability/history-store.js';
import { reportMarkdown } from '../observability/report-markdown.js';
import { buildReport, REPORT_KINDS, type ReportContext, type ReportKind } from '../observability/reports.js';
import { type Observability, probeUp } from '../observability/runtime.js';
import { splitInputFor } from './api-monitoring.js';
import { type AdminRequest, type AdminServer, HttpError } from './http.js';

function time(value: string | null, name: string): number | undefined {
  if (value === null || value === '') return undefined;
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(t)) throw new HttpError(400, `${name} must be epoch milliseconds or an ISO time`);
  return t;
}

export function registerHistoryRoutes(
  admin: AdminServer,
  store: HistoryStore,
  reports: ReportContext,
  drTests: DrTestLog,
): void {
  admin.route({
    method: 'GET',
    path: '/api/history',
    handler: async (req) => {
      const shard = req.query.get('shard') || undefined;
      const type = req.query.get('type') || 'shard';
      const limit = Math.min(100_000, Math.max(1, Number(req.query.get('limit') ?? 10_000) || 10_000));
      const records = await store.query({
        type,
        ...(shard ? { shard } : {}),
        from: time(req.query.get('from'), 'from'),
        to: time(req.query.get('to'), 'to'),
        limit,
      });
      return { json: { records, storeBytes: store.sizeBytes } };
    },
  });
  const report = async (req: AdminRequest, storeBaseline: boolean) => {
    const kind = req.rest as ReportKind;
    if (!REPORT_KINDS.includes(kind)) throw new HttpError(404, `report kinds: ${REPORT_KINDS.join(', ')}`);
    const built = await buildReport(kind, reports, storeBaseline);
    if (req.query.get('format') === 'markdown') {
      return { text: reportMarkdown(built), contentType: 'text/markdown; charset=utf-8' };
    }
    return { json: built };
  };
  admin.route({ method: 'GET', path: '/api/reports/*', handler: (req) => report(req, false) });
  // Disaster-recovery tests the operators ran: the monthly report shows the last one.
  admin.route({
    method: 'GET',
    path: '/api/dr-tests',
    handler: async () => ({ json: { tests: await drTests.list() } }),
  });
  admin.route({
    method: 'POST',
    path: '/api/dr-tests',
    mutating: true,
    handler: async (req) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      try {
        return { json: await drTests.record({ note: body.note, outcome: body.outcome, at: body.at }) };
      } catch (err) {
        if (err instanceof RangeError) throw new HttpError(400, err.message);
        throw err;
      }
    },
  });
  // POST: the same report; the monthly one also stores the current p95s as the new baseline.
  admin.route({
    method: 'POST',
    path: '/api/reports/*',
    mutating: true,
    handler: (req) => report(req, true),
  });
}

/** The reports' view of a running proxy. */
export function reportContextFor(
  topology: RuntimeTopology,
  obs: Observability,
  store: HistoryStore,
  resultCache: () => { hits: number; misses: number },
  drTests: DrTestLog,
): ReportContext {
  const settings = () => topology.currentConfig.observability;
  return {
    store,
    dir: settings().history.dir,
    sizeThresholdBytes: settings().reports.sizeThresholdBytes,
    shards: () => {
      const health = topology.monitor.health();
      return topology.shardList().map((s) => {
        const primary = health.find((h) => h.name === s.primary.name);
        return {
          shard: s.name,
          servers: [s.primary, ...s.replicas].map((srv) => {
            const h = health.find((x) => x.name === srv.name);
            return {
              name: srv.name,
              role: srv.role,
              up: h ? probeUp(h) : null,
              lagSeconds: srv.role === 'replica' && h?.lagMs != null ? h.lagMs / 1000 : null,
            };
          }),
          dataBytes: primary?.dataBytes ?? null,
          p95Seconds: obs.tracker.latency.shardSummary(s.name)?.p95Seconds ?? null,
          archiver: primary?.archiver ?? null,
        };
      });
    },
    firingAlerts: () => obs.alerts.firingAlerts(),
    topStatements: (limit) => obs.tracker.statements.top(limit, 'total'),
    resultCache,
    lastDrTest: () => drTests.last(),
    imbalance: () => obs.tracker.hotKeys.imbalance(topology.shardNames()),
    splitAdvice: () =>
      topology.shardList().map((s) => {
        const input = splitInputFor(topology, obs, s.name)!;
        const hot = obs.tracker.hotKeys.hotness().find((h) => h.shard === s.name)?.hotspotScore ?? null;
        return { shard: s.name, recommendation: splitAdvice(input, hot) };
      }),
  };
}
