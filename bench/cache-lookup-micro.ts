// Micro benchmark: the result cache's hit-path lookup (serveBeforePlanning) while the cache holds
// an entry, for a unit whose statement was never cached (the common case: stopped by the hint)
// and for a cached statement with other parameters (hint matches: the key is built and
// looked up, which every unit paid before the hint). Timed by CPU time. No I/O, no assertions.
// Run: npx vite-node bench/cache-lookup-micro.ts
import { PgResultCache } from '../src/cache/pg-result-cache.js';
import { configForLocalShards } from '../src/local/local-config.js';
import {
  encodeBind,
  encodeDescribe,
  encodeExecute,
  encodeParse,
  encodeSync,
} from '../src/protocol/postgres/frontend-encoders.js';
import type { QueryCycle } from '../src/protocol/postgres/query-cycle.js';
import { newSessionState } from '../src/protocol/postgres/session-state.js';
import { FE, newUnit, type Unit } from '../src/protocol/postgres/units.js';
import { measureBatches } from './lib/micro.js';

const config = configForLocalShards(
  [{ name: 's0', primary: { name: 's0-primary', host: '127.0.0.1', port: 15432 }, replicas: [] }],
  { database: 'bench' },
);
config.dataTypes = {
  branches: {
    level: 'eventual',
    cacheTtlMs: 600_000,
    cacheStrategy: 'write-through',
    crossShard: 'two_phase',
    tables: ['pgbench_branches'],
  },
};
const cache = new PgResultCache(config);
const state = newSessionState('bench', 'bench', new Map([['application_name', 'pgbench']]));
state.settings.set('application_name', 'pgbench');
state.settings.set('client_encoding', 'UTF8');
const session = { write: (_bytes: Buffer) => undefined };
const cycle = { state, bindings: new Map(), session } as unknown as QueryCycle;

/** pgbench -M extended's unit for one statement and one parameter. */
function unit(sql: string, value: number): Unit {
  const frames = [
    { type: FE.Parse, bytes: encodeParse({ name: '', query: sql, paramTypes: [] }) },
    {
      type: FE.Bind,
      bytes: encodeBind({
        portal: '',
        statement: '',
        paramFormats: [],
        values: [Buffer.from(String(value))],
        resultFormats: [],
      }),
    },
    { type: FE.Describe, bytes: encodeDescribe({ kind: 'P', name: '' }) },
    { type: FE.Execute, bytes: encodeExecute({ portal: '', maxRows: 0 }) },
    { type: FE.Sync, bytes: encodeSync() },
  ];
  return newUnit(frames, false);
}

const cached = 'SELECT bbalance FROM pgbench_branches WHERE bid = $1';
/** Stores the entry of `u` the way a fill stores it (run() with an execute that answers). */
async function store(u: Unit): Promise<void> {
  await cache.run(
    cycle,
    u,
    [
      {
        sql: cached,
        facts: {
          kind: 'read',
          tables: ['pgbench_branches'],
          functions: [],
          locking: false,
          modifyingCte: false,
        },
        plan: { type: 'single', write: false, level: 'eventual' },
      },
    ] as never,
    { shard: 's0', server: 's0-primary', role: 'primary' },
    async () => {
      cycle.session.write(Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
    },
  );
}
await store(unit(cached, 1));
if (cache.store.isEmpty()) throw new Error('the cache did not take the entry (check the policy)');

// Hits among many entries (the zipfian bench holds ~6,000): every key of `hot` is stored, then
// served before planning in turn (a hit replays into the no-op session above).
const ENTRIES = 6_000;
const hot = Array.from({ length: ENTRIES }, (_, i) => unit(cached, 10_000 + i));
for (const u of hot) await store(u);
// Zipf-like reuse: most hits go to a few keys (the case where moving an entry to the LRU end is wasted).
const hotOrder = Array.from({ length: 4096 }, (_, i) => Math.floor(ENTRIES * (i / 4096) ** 4));

const accounts = Array.from({ length: 1000 }, (_, i) =>
  unit('SELECT abalance FROM pgbench_accounts WHERE aid = $1;', i + 1),
);
const branches = Array.from({ length: 1000 }, (_, i) => unit(cached, i + 2));
for (let round = 0; round < 3; round++) {
  measureBatches(
    'uncached statement (pgbench -S unit)',
    40,
    2_000,
    (i) => {
      cache.serveBeforePlanning(cycle, accounts[i % 1000]!);
    },
    'cpu',
  );
  measureBatches(
    'cached statement, other parameter (key built)',
    40,
    2_000,
    (i) => {
      cache.serveBeforePlanning(cycle, branches[i % 1000]!);
    },
    'cpu',
  );
  measureBatches(
    `hit among ${ENTRIES} entries (skewed reuse)`,
    40,
    2_000,
    (i) => {
      if (!cache.serveBeforePlanning(cycle, hot[hotOrder[i % 4096]!]!)) throw new Error('expected a hit');
    },
    'cpu',
  );
}
