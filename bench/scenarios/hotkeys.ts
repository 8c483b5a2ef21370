// The hotkeys scenario: a local topology (2 shards x 1 replica) and shardgate; zipfian clients
// read and update `recommendations` rows by user_id through the proxy while counting exactly
// which key they sent; afterwards shardgate's /api/hotkeys (Space-Saving top-k per shard and
// table, hotspot score per shard) is compared with that truth. Each repeat runs against a fresh
// shardgate process so its sketches start empty. Bounded by --ops and --max-seconds per repeat.

import {
  adminJson,
  type DemoTopology,
  type RunningShardgate,
  SCENARIO_TOPOLOGY,
  startScenarioTopology,
  startShardgateOn,
} from '../lib/demo-topology.js';
import { LatencyRecorder } from '../lib/hdr.js';
import { loadSnapshot } from '../lib/machine.js';
import { closeClients, errorMessage, openClients } from '../lib/pg-clients.js';
import { runScenario, type ScenarioOutput } from '../lib/scenario.js';
import { optionValues } from '../lib/scenario-options.js';
import { mulberry32, Zipf } from '../lib/zipf.js';
import {
  countErrors,
  precisionAtK,
  type ReportedKey,
  spearman,
  trueHotspotScore,
  trueRanking,
} from './hotkeys-analysis.js';
import type { HotkeysOptions } from './hotkeys-options.js';
import * as report from './hotkeys-report.js';
import { type HotkeysRepeat, type HotkeysResult, precisionKs } from './hotkeys-report.js';

/** Generated keys start here, above the demo data's user ids. */
export const KEY_BASE = 100_000;
const TABLE = 'recommendations';
const READ_SQL = `SELECT count(*) AS n FROM ${TABLE} WHERE user_id = $1`;
const WRITE_SQL = `UPDATE ${TABLE} SET score = score + 1 WHERE user_id = $1`;

export type HotkeysOutput = ScenarioOutput<HotkeysResult>;

interface HotkeysApi {
  keys: Array<{ shard: string; table: string; value: string; count: number; error: number }>;
  shards: Array<{ shard: string; requests: number; distinctKeys: number; hotspotScore: number | null }>;
}

export function runHotkeysScenario(o: HotkeysOptions): Promise<HotkeysOutput> {
  return runScenario('hotkeys', o.say, async (run) => {
    const { machine, before } = await run.measureMachine();
    const topology = await startScenarioTopology(run, machine);
    const repeats: HotkeysRepeat[] = [];
    for (let repeat = 0; repeat < o.repeats; repeat++) {
      const proxy = run.track(await startShardgateOn(topology, { workers: o.workers }));
      try {
        const r = await measureRepeat(topology, proxy, o, repeat);
        repeats.push(r);
        const p = r.precision[String(o.top)];
        o.say(
          `  repeat ${repeat + 1}/${o.repeats}: ${r.ops} statements in ${r.seconds.toFixed(1)} s, precision@${o.top} ${p === undefined ? '-' : p.toFixed(2)}, spearman ${r.spearman.toFixed(2)}${r.errors > 0 ? `, ${r.errors} errors` : ''}`,
        );
      } finally {
        await run.release(proxy);
      }
    }
    const header = await run.finishMeasuring(
      o.command,
      machine,
      before,
      ' (throughput figures are noisy; accuracy figures are not affected)',
    );
    const result: HotkeysResult = {
      ...header,
      parameters: {
        ...optionValues(o, [
          'keys',
          'zipfS',
          'ops',
          'maxSeconds',
          'clients',
          'writeRatio',
          'top',
          'repeats',
          'seed',
        ]),
        shardgateWorkers: o.workers,
        table: TABLE,
        keyBase: KEY_BASE,
        topology: SCENARIO_TOPOLOGY,
      },
      repeats,
      summary: report.summarizeRepeats(repeats, o.top),
      notes: run.notes,
    };
    return run.publish(result, o, report);
  });
}

async function measureRepeat(
  topology: DemoTopology,
  proxy: RunningShardgate,
  o: HotkeysOptions,
  repeat: number,
): Promise<HotkeysRepeat> {
  const startedAt = new Date().toISOString();
  const loadavg1 = loadSnapshot().loadavg[0];
  const truth = new Map<string, number>();
  const latency = new LatencyRecorder();
  let issued = 0;
  let errors = 0;
  let firstError: string | undefined;
  const clients = await openClients(proxy.endpoint, o.clients);
  const began = performance.now();
  const deadline = began + o.maxSeconds * 1000;
  try {
    await Promise.all(
      clients.map(async (client, c) => {
        const seed = o.seed * 1_000_003 + repeat * 1_009 + c;
        const zipf = new Zipf(o.keys, o.zipfS, seed);
        const random = mulberry32(seed ^ 0x5bd1e995);
        while (issued < o.ops && performance.now() < deadline) {
          issued++;
          const value = String(KEY_BASE + zipf.next());
          const sql = random() < o.writeRatio ? WRITE_SQL : READ_SQL;
          const t0 = performance.now();
          try {
            await client.query(sql, [value]);
            latency.recordMs(performance.now() - t0);
            truth.set(value, (truth.get(value) ?? 0) + 1);
          } catch (err) {
            errors++;
            firstError ??= errorMessage(err);
          }
        }
      }),
    );
  } finally {
    await closeClients(clients);
  }
  const seconds = (performance.now() - began) / 1000;
  const ops = [...truth.values()].reduce((a, b) => a + b, 0);

  // A longer list than k, so true top keys that shardgate ranks lower still show their counts.
  const api = await adminJson<HotkeysApi>(proxy.adminUrl, `/api/hotkeys?limit=${Math.min(1000, o.top * 5)}`);
  const listed: ReportedKey[] = api.keys
    .filter((k) => k.table === TABLE)
    .map((k) => ({ value: k.value, count: k.count, error: k.error }));
  const reportedKeys = listed.slice(0, o.top);
  const reportedValues = reportedKeys.map((k) => k.value);
  const precision: Record<string, number> = {};
  for (const k of precisionKs(o.top)) precision[String(k)] = precisionAtK(reportedValues, truth, k);

  // Per shard: the truth split by owner, shardgate's per-shard top-k and hotspot score.
  const perShardTruth = new Map<string, Map<string, number>>();
  for (const [value, count] of truth) {
    const shard = topology.ownerOf(TABLE, value);
    let m = perShardTruth.get(shard);
    if (!m) perShardTruth.set(shard, (m = new Map()));
    m.set(value, count);
  }
  const shards = [];
  for (const s of topology.config.shards) {
    const own = perShardTruth.get(s.name) ?? new Map<string, number>();
    const perShard = await adminJson<HotkeysApi>(
      proxy.adminUrl,
      `/api/hotkeys?shard=${encodeURIComponent(s.name)}&limit=${o.top}`,
    );
    const hot = api.shards.find((x) => x.shard === s.name);
    shards.push({
      shard: s.name,
      requests: hot?.requests ?? 0,
      trueRequests: [...own.values()].reduce((a, b) => a + b, 0),
      reportedScore: hot?.hotspotScore ?? null,
      trueScore: trueHotspotScore(own.values()),
      reportedDistinct: hot?.distinctKeys ?? null,
      trueDistinct: own.size,
      precisionAtTop: precisionAtK(
        perShard.keys.filter((k) => k.table === TABLE).map((k) => k.value),
        own,
        o.top,
      ),
    });
  }

  const reportedRank = new Map(listed.map((k, i) => [k.value, i + 1]));
  const top = trueRanking(truth)
    .slice(0, o.top)
    .map(([value, trueCount], i) => {
      const r = listed.find((k) => k.value === value);
      return {
        rank: i + 1,
        value,
        shard: topology.ownerOf(TABLE, value),
        trueCount,
        reportedCount: r?.count ?? null,
        reportedError: r?.error ?? null,
        reportedRank: reportedRank.get(value) ?? null,
      };
    });
  const run: HotkeysRepeat = {
    repeat,
    startedAt,
    loadavg1,
    ops,
    errors,
    seconds,
    opsPerSec: seconds > 0 ? ops / seconds : Number.NaN,
    latency: latency.summary(),
    distinctKeys: truth.size,
    precision,
    spearman: spearman(reportedValues, truth),
    countError: countErrors(reportedKeys, truth),
    reported: reportedKeys.map((k) => ({
      ...k,
      shard: topology.ownerOf(TABLE, k.value),
      trueCount: truth.get(k.value) ?? 0,
    })),
    top,
    shards,
  };
  latency.destroy();
  if (firstError) run.error = firstError;
  return run;
}
