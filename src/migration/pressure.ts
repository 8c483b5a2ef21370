// Turns the source's load into the throttle's backoff factor, so the copy slows down before the
// application feels it. Two signals, sampled on the source primary:
//   latency    round trip of SELECT 1, median of 3 (a busy server answers slowly)
//   replica lag  the largest replay lag of its streaming replicas (pg_stat_replication; logical
//              walsenders such as our own capture are not replicas and are left out)
// Each maps through its steps to a factor; the smaller one wins. Default steps:
//   latency  <= 20 ms: 1   <= 50 ms: 0.5   <= 200 ms: 0.25   above: 0.1
//   lag      <= 1 s:   1   <= 5 s:   0.5   <= 30 s:   0.25   above: 0.1
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { describeError, openClient } from './pg-connect.js';
import type { ServerAddress } from './types.js';

export interface PressureSample {
  latencyMs: number;
  replicaLagSeconds: number;
  replicaLagBytes: number;
  replicas: number;
}

/** Factor `factor` applies while the value is at most `upTo`; values past the last step get `beyond`. */
export interface PressureSteps {
  steps: Array<{ upTo: number; factor: number }>;
  beyond: number;
}

export interface PressureThresholds {
  latencyMs: PressureSteps;
  replicaLagSeconds: PressureSteps;
}

/** Both signals slow the copy along the same factors; only the value where each step ends differs. */
function defaultSteps(upTo: readonly [number, number, number]): PressureSteps {
  return { steps: [1, 0.5, 0.25].map((factor, i) => ({ upTo: upTo[i]!, factor })), beyond: 0.1 };
}

export const DEFAULT_PRESSURE_THRESHOLDS: PressureThresholds = {
  latencyMs: defaultSteps([20, 50, 200]),
  replicaLagSeconds: defaultSteps([1, 5, 30]),
};

function stepFactor(value: number, steps: PressureSteps): number {
  for (const s of steps.steps) if (value <= s.upTo) return s.factor;
  return steps.beyond;
}

/** The backoff factor for a sample: 1 = full speed, smaller = slower. */
export function backoffFactor(
  sample: PressureSample,
  thresholds: PressureThresholds = DEFAULT_PRESSURE_THRESHOLDS,
): number {
  return Math.min(
    stepFactor(sample.latencyMs, thresholds.latencyMs),
    stepFactor(sample.replicaLagSeconds, thresholds.replicaLagSeconds),
  );
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const REPLICA_LAG_SQL = `
  SELECT coalesce(max(extract(epoch FROM r.replay_lag)), 0)::float8::text AS seconds,
         coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)), 0)::int8::text AS bytes,
         count(*)::text AS replicas
    FROM pg_stat_replication r
   WHERE r.state IN ('streaming', 'catchup')
     AND NOT EXISTS (SELECT 1 FROM pg_replication_slots s
                      WHERE s.active_pid = r.pid AND s.slot_type = 'logical')`;

/** One sample on an open connection to the source primary. */
export async function samplePressure(client: pg.Client): Promise<PressureSample> {
  const rtts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await client.query('SELECT 1');
    rtts.push(performance.now() - t0);
  }
  const r = await client.query<{ seconds: string; bytes: string; replicas: string }>(REPLICA_LAG_SQL);
  const row = r.rows[0];
  return {
    latencyMs: median(rtts),
    replicaLagSeconds: Number(row?.seconds ?? 0),
    replicaLagBytes: Number(row?.bytes ?? 0),
    replicas: Number(row?.replicas ?? 0),
  };
}

export interface PressureReading {
  sample: PressureSample | null;
  factor: number;
  error: string | null;
  at: number;
}

/** Samples the source every intervalMs and sets the throttle's backoff; a failed sample keeps the last factor. */
export class PressureMonitor {
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  last: PressureReading | null = null;

  constructor(
    private readonly source: ServerAddress,
    private readonly target: { setBackoff(factor: number): void },
    private readonly options: { intervalMs?: number; thresholds?: PressureThresholds } = {},
  ) {}

  start(): void {
    if (this.timer) return;
    const tick = () => {
      if (!this.running) this.running = this.sampleOnce().then(() => void (this.running = null));
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs ?? 5_000);
    this.timer.unref();
  }

  async sampleOnce(): Promise<PressureReading> {
    try {
      this.client ??= await openClient(this.source, 'migration-pressure');
      const sample = await samplePressure(this.client);
      const factor = backoffFactor(sample, this.options.thresholds);
      this.target.setBackoff(factor);
      this.last = { sample, factor, error: null, at: Date.now() };
    } catch (err) {
      const old = this.client;
      this.client = null;
      await old?.end().catch(() => undefined);
      this.last = { sample: null, factor: this.last?.factor ?? 1, error: describeError(err), at: Date.now() };
    }
    return this.last;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}
