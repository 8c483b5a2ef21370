// Threshold alerts over health snapshots. State is kept per (rule, subject) where the subject is
// a shard or a replica: an alert fires once per episode (after `forMs` of continuous breach),
// resolves once, and a change of severity resolves the old alert and fires the new one (severity
// is part of an alert's identity, as in Alertmanager). Events go to listeners synchronously and,
// if configured, to an Alertmanager-compatible webhook from a background queue with retries and
// a timeout: a slow or dead webhook never delays evaluation.
import type { AlertRuleConfig } from '../config/schema.js';
import { DEFAULT_ALERT_RULES } from '../config/schema.js';
import { AlertDelivery, type WebhookOptions } from './alert-webhook.js';

export type { WebhookOptions } from './alert-webhook.js';
export { renderPrometheusRules } from './prometheus-rules.js';

export type AlertMetric = AlertRuleConfig['metric'];
export type Severity = 'warning' | 'critical';

/** Figures per shard at one moment; null = unknown (never triggers, never resolves). */
export interface ShardHealth {
  /** The MySQL front end's shard (names may repeat across protocols); absent: PostgreSQL's. */
  protocol?: 'mysql';
  shard: string;
  cpuPercent: number | null;
  memoryPercent: number | null;
  diskPercent: number | null;
  hotspotScore: number | null;
  latencyP99Seconds: number | null;
  /** Share (0-1) of pool checkouts that found no free connection, over the last interval. */
  poolExhaustionRate: number | null;
  /** Servers of the shard out of rotation after failing connections (absent = unknown). */
  serversShunned?: number | null;
  /** Age of the oldest prepared cross-shard transaction waiting for recovery on this shard. */
  twoPhaseInDoubtSeconds?: number | null;
  replicas: ReadonlyArray<{ name: string; lagSeconds: number | null }>;
  /** Every server of the shard: up = answers its health probe (null: not probed yet). */
  servers?: ReadonlyArray<{ name: string; up: boolean | null }>;
}

export interface HealthSnapshot {
  shards: readonly ShardHealth[];
}

export interface AlertEvent {
  status: 'firing' | 'resolved';
  alertname: string;
  severity: Severity;
  /** compensation: a one-off event of compensate mode (announce), not a threshold rule. */
  metric: AlertMetric | 'compensation';
  /** Present for a MySQL shard (its names may repeat the PostgreSQL side's). */
  protocol?: 'mysql';
  shard: string;
  /** For replication lag: the replica's server name; for a server down: the server's name. */
  replica: string | null;
  value: number;
  /** The threshold that was crossed, with its comparison. */
  threshold: number;
  op: '>' | '>=';
  summary: string;
  description: string;
  recommendation: string | null;
  /** Epoch ms. */
  startsAt: number;
  endsAt: number | null;
}

export type AlertListener = (event: AlertEvent) => void;

export interface AlertManagerOptions {
  rules?: readonly AlertRuleConfig[];
  now?: () => number;
  webhook?: WebhookOptions;
  /** Link placed in generatorURL (e.g. the dashboard). */
  generatorURL?: string;
}

interface Subject {
  key: string;
  protocol?: 'mysql';
  shard: string;
  replica: string | null;
  value: number | null;
}

interface RuleState {
  pendingSince: number;
  active: AlertEvent | null;
}

const METRIC_TEXT: Record<AlertMetric, { label: string; unit: string }> = {
  cpu_percent: { label: 'CPU use', unit: '%' },
  memory_percent: { label: 'memory use', unit: '%' },
  disk_percent: { label: 'disk use', unit: '%' },
  replication_lag_seconds: { label: 'replication lag', unit: ' s' },
  hotspot_score: { label: 'hot-key score', unit: '' },
  latency_p99_seconds: { label: 'p99 statement latency', unit: ' s' },
  pool_exhaustion_rate: { label: 'pool exhaustion rate', unit: '' },
  server_down: { label: 'server down (1 = no answer to the health probe)', unit: '' },
  servers_shunned: { label: 'servers shunned', unit: '' },
  twopc_in_doubt_seconds: { label: 'oldest in-doubt cross-shard transaction', unit: ' s' },
};

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

/** Severity a value earns under a rule: critical (>=), else warning (warningOp), else none. */
export function severityFor(
  rule: AlertRuleConfig,
  value: number,
): { severity: Severity; threshold: number; op: '>' | '>=' } | null {
  if (rule.critical !== undefined && value >= rule.critical)
    return { severity: 'critical', threshold: rule.critical, op: '>=' };
  if (rule.warning !== undefined) {
    const op = rule.warningOp ?? '>';
    if (op === '>' ? value > rule.warning : value >= rule.warning)
      return { severity: 'warning', threshold: rule.warning, op };
  }
  return null;
}

function subjects(rule: AlertRuleConfig, snapshot: HealthSnapshot): Subject[] {
  const out: Subject[] = [];
  for (const s of snapshot.shards) {
    const protocol = s.protocol ? { protocol: s.protocol } : {};
    const shardKey = s.protocol ? `${s.protocol}:${s.shard}` : s.shard;
    if (rule.metric === 'replication_lag_seconds') {
      for (const r of s.replicas) {
        out.push({
          key: `${rule.name}\u0000${shardKey}\u0000${r.name}`,
          ...protocol,
          shard: s.shard,
          replica: r.name,
          value: r.lagSeconds,
        });
      }
      continue;
    }
    if (rule.metric === 'server_down') {
      for (const server of s.servers ?? []) {
        out.push({
          key: `${rule.name}\u0000${shardKey}\u0000${server.name}`,
          ...protocol,
          shard: s.shard,
          replica: server.name,
          value: server.up === null ? null : server.up ? 0 : 1,
        });
      }
      continue;
    }
    const value = {
      cpu_percent: s.cpuPercent,
      memory_percent: s.memoryPercent,
      disk_percent: s.diskPercent,
      hotspot_score: s.hotspotScore,
      latency_p99_seconds: s.latencyP99Seconds,
      pool_exhaustion_rate: s.poolExhaustionRate,
      servers_shunned: s.serversShunned ?? null,
      twopc_in_doubt_seconds: s.twoPhaseInDoubtSeconds ?? null,
    }[rule.metric];
    out.push({ key: `${rule.name}\u0000${shardKey}`, ...protocol, shard: s.shard, replica: null, value });
  }
  return out;
}

export class AlertManager {
  private rules: AlertRuleConfig[];
  private readonly now: () => number;
  private readonly states = new Map<string, RuleState>();
  private readonly listeners = new Set<AlertListener>();
  private readonly delivery: AlertDelivery | null;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: AlertManagerOptions = {}) {
    this.rules = [...(options.rules ?? DEFAULT_ALERT_RULES)];
    this.now = options.now ?? Date.now;
    this.delivery = options.webhook
      ? new AlertDelivery(options.webhook, this.now, options.generatorURL ?? '')
      : null;
  }

  /** Replaces the rules (config reload); alerts of removed rules resolve at the next evaluation. */
  setRules(rules: readonly AlertRuleConfig[]): void {
    this.rules = [...rules];
  }

  onEvent(listener: AlertListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Evaluates every rule on the snapshot; returns the events it emitted. Never throws for I/O. */
  evaluate(snapshot: HealthSnapshot): AlertEvent[] {
    const now = this.now();
    const events: AlertEvent[] = [];
    const seen = new Set<string>();
    for (const rule of this.rules) {
      for (const subject of subjects(rule, snapshot)) {
        seen.add(subject.key);
        if (subject.value === null || !Number.isFinite(subject.value)) continue;
        const hit = severityFor(rule, subject.value);
        const state = this.states.get(subject.key);
        if (hit === null) {
          if (state?.active) events.push(this.resolved(state.active, now));
          this.states.delete(subject.key);
          continue;
        }
        if (!state) {
          const fresh: RuleState = { pendingSince: now, active: null };
          this.states.set(subject.key, fresh);
          if (rule.forMs <= 0) {
            fresh.active = this.firing(rule, subject, subject.value, hit, now);
            events.push(fresh.active);
          }
          continue;
        }
        if (state.active) {
          if (state.active.severity !== hit.severity) {
            events.push(this.resolved(state.active, now));
            state.active = this.firing(rule, subject, subject.value, hit, now);
            events.push(state.active);
          } else {
            // A new object: events already handed to listeners stay as they were.
            state.active = { ...state.active, value: subject.value };
          }
          continue;
        }
        if (now - state.pendingSince >= rule.forMs) {
          state.active = this.firing(rule, subject, subject.value, hit, now);
          events.push(state.active);
        }
      }
    }
    // Subjects gone from the snapshot (shard removed, rule removed): resolve what fired.
    for (const [key, state] of this.states) {
      if (seen.has(key)) continue;
      if (state.active) events.push(this.resolved(state.active, now));
      this.states.delete(key);
    }
    for (const e of events) {
      for (const l of this.listeners) {
        try {
          l(e);
        } catch {
          // A failing listener must not stop the others or the evaluation.
        }
      }
    }
    this.delivery?.enqueue(events, this.firingAlerts());
    return events;
  }

  /**
   * A one-off event (a transaction undone in compensate mode): to the listeners and the webhook
   * once, already resolved, so Alertmanager shows it without keeping it active.
   */
  announce(event: AlertEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A failing listener must not stop the others.
      }
    }
    this.delivery?.enqueue([event], this.firingAlerts());
  }

  /** Alerts firing now (copies). */
  firingAlerts(): AlertEvent[] {
    const out: AlertEvent[] = [];
    for (const s of this.states.values()) if (s.active) out.push({ ...s.active });
    return out.sort((a, b) => a.startsAt - b.startsAt || a.alertname.localeCompare(b.alertname));
  }

  /** Runs evaluate every intervalMs on snapshots from `source`; errors go to onError. */
  start(
    source: () => HealthSnapshot | Promise<HealthSnapshot>,
    intervalMs: number,
    onError?: (err: Error) => void,
  ): void {
    this.stop();
    let running = false;
    this.timer = setInterval(() => {
      if (running) return;
      running = true;
      Promise.resolve()
        .then(source)
        .then((snap) => this.evaluate(snap))
        .catch((err: Error) => onError?.(err))
        .finally(() => {
          running = false;
        });
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Waits until queued webhook deliveries are done (tests, shutdown). */
  async flush(): Promise<void> {
    await this.delivery?.flush();
  }

  private firing(
    rule: AlertRuleConfig,
    subject: Subject,
    value: number,
    hit: { severity: Severity; threshold: number; op: '>' | '>=' },
    now: number,
  ): AlertEvent {
    const text = METRIC_TEXT[rule.metric];
    const shard = subject.protocol ? `MySQL shard ${subject.shard}` : `shard ${subject.shard}`;
    const where = subject.replica
      ? `${rule.metric === 'server_down' ? 'server' : 'replica'} ${subject.replica} of ${shard}`
      : shard;
    return {
      status: 'firing',
      alertname: rule.name,
      severity: hit.severity,
      metric: rule.metric,
      ...(subject.protocol ? { protocol: subject.protocol } : {}),
      shard: subject.shard,
      replica: subject.replica,
      value,
      threshold: hit.threshold,
      op: hit.op,
      summary: `${rule.name} (${hit.severity}) on ${where}`,
      description: `${text.label} on ${where} is ${fmt(value)}${text.unit}, ${hit.severity} threshold ${hit.op} ${fmt(hit.threshold)}${text.unit}`,
      recommendation: rule.recommendation ?? null,
      startsAt: now,
      endsAt: null,
    };
  }

  private resolved(active: AlertEvent, now: number): AlertEvent {
    return { ...active, status: 'resolved', endsAt: now };
  }
}
