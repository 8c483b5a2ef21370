// The Prometheus rules file and the Grafana dashboard shipped in config/ load, and every metric
// they query is one shardgate exports (a renamed metric would leave a panel or alert silently empty).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_ALERT_RULES } from '../../src/config/schema.js';
import { repoRoot } from '../../src/local/local-config.js';
import { ShardgateMetrics } from '../../src/observability/metrics.js';
import { renderPrometheusRules } from '../../src/observability/prometheus-rules.js';
import { TwoPhaseStats } from '../../src/transactions/stats.js';

/** The registry as the proxy builds it: shardgate's metrics and two-phase commit's. */
function proxyRegistry() {
  const registry = new ShardgateMetrics().registry;
  new TwoPhaseStats().register(registry);
  return registry;
}

const exported = new Set(
  proxyRegistry()
    .getMetricsAsArray()
    .flatMap((m) =>
      (m as unknown as { type?: string }).type === 'histogram'
        ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`]
        : [m.name],
    ),
);

/** shardgate metric names an expression uses. */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bshardgate_[a-z0-9_]+/g)].map((m) => m[0]);
}

const configFile = (name: string) => readFileSync(join(repoRoot(), 'config', name), 'utf8');

describe('config/prometheus-rules.yml', () => {
  const doc = parse(configFile('prometheus-rules.yml')) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string; labels: { severity: string } }> }>;
  };
  const rules = doc.groups.flatMap((g) => g.rules);

  it('is the default alert rules as shardgate renders them (regenerate it when they change)', () => {
    expect(configFile('prometheus-rules.yml')).toBe(renderPrometheusRules(DEFAULT_ALERT_RULES));
    expect(new Set(rules.map((r) => r.alert))).toEqual(new Set(DEFAULT_ALERT_RULES.map((r) => r.name)));
  });

  it('queries only metrics shardgate exports, ServerDown among them', () => {
    for (const r of rules) {
      const used = metricsIn(r.expr);
      expect(used.length, r.alert).toBeGreaterThan(0);
      for (const m of used) expect(exported, `${r.alert}: ${m}`).toContain(m);
    }
    expect(rules.find((r) => r.alert === 'ServerDown')).toMatchObject({
      expr: '(1 - shardgate_server_up) >= 1',
      labels: { severity: 'critical' },
    });
  });
});

describe('config/grafana-dashboard.json', () => {
  const dash = JSON.parse(configFile('grafana-dashboard.json')) as {
    uid: string;
    panels: Array<{ title: string; targets: Array<{ expr: string; refId: string }> }>;
    templating: { list: Array<{ name: string; type: string }> };
  };

  it('has panels whose queries use only exported metrics', () => {
    expect(dash.uid).toBe('shardgate-overview');
    expect(dash.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource' }));
    expect(dash.panels.length).toBeGreaterThanOrEqual(10);
    const used = new Set<string>();
    for (const p of dash.panels) {
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) {
        for (const m of metricsIn(t.expr)) {
          expect(exported, `${p.title}: ${m}`).toContain(m);
          used.add(m);
        }
      }
    }
    // The signals of issue 18 are on the dashboard.
    for (const m of [
      'shardgate_server_up',
      'shardgate_serialization_conflicts_total',
      'shardgate_cutover_phase',
      'shardgate_host_cpu_ratio',
      'shardgate_host_disk_ratio',
    ])
      expect(used).toContain(m);
  });
});
