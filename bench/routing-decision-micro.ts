// Micro benchmark: one routing decision on a parse-cache hit, the way the proxy makes it
// (fingerprint the text, cache lookup, resolve values, plan), with the routing decision cache
// (decision-cache.ts: a hit skips analysis and planning) and without it (routing.decisionCacheBytes
// 0), alternating. No I/O. Prints medians over batches; no assertions.
// Run: npx vite-node bench/routing-decision-micro.ts
import { RuntimeTopology } from '../src/backend/pg-topology.js';
import { configForLocalShards } from '../src/local/local-config.js';
import { Router } from '../src/router/router.js';
import { QueryAnalyzer } from '../src/sql/analyzer.js';
import { routingSession } from '../test/support/topology-fixture.js';
import { measureBatches } from './lib/micro.js';

const shards = [0, 1].map((i) => ({
  name: `s${i}`,
  primary: { name: `s${i}-primary`, host: '127.0.0.1', port: 15432 + i * 2 },
  replicas: [{ name: `s${i}-replica1`, host: '127.0.0.1', port: 15433 + i * 2 }],
}));
const config = configForLocalShards(shards, { database: 'shardgate' });
const topology = new RuntimeTopology(config);
const analyzer = await QueryAnalyzer.create({ cacheSize: 10_000 });
const routers = {
  cached: new Router(analyzer, topology),
  uncached: new Router(analyzer, topology, {}, { entries: 0, bytes: 0 }),
};
const session = routingSession();

/** Timed by CPU (the machine is shared): 40 batches of 2,000 decisions, median and p90. */
function measure(label: string, fn: (i: number) => void): void {
  measureBatches(label, 40, 2_000, fn, 'cpu');
}

const bind = (v: number) => ({ values: [Buffer.from(String(v))], formats: [0], types: [0] });
for (const round of [1, 2]) {
  for (const [name, router] of Object.entries(routers)) {
    const tag = `[${name}, round ${round}]`;
    measure(`simple: SELECT ... WHERE user_id = <literal> ${tag}`, (i) => {
      router.planSimple(`SELECT id, title FROM posts WHERE user_id = ${i % 1000}`, session);
    });
    measure(`extended: SELECT ... WHERE user_id = $1 ${tag}`, (i) => {
      router.planExtended('SELECT id, title FROM posts WHERE user_id = $1', session, bind(i % 1000));
    });
    measure(`pgbench -S extended ${tag}`, (i) => {
      router.planExtended(
        'SELECT abalance FROM pgbench_accounts WHERE aid = $1;',
        session,
        bind(i % 100_000),
      );
    });
    measure(`pgbench -S simple ${tag}`, (i) => {
      router.planSimple(`SELECT abalance FROM pgbench_accounts WHERE aid = ${i % 100_000};`, session);
    });
  }
}
measure('fingerprint only (short query)', (i) => {
  analyzer.analyze(`SELECT id, title FROM posts WHERE user_id = ${i % 1000}`);
});
process.stdout.write(`parse cache: ${JSON.stringify(analyzer.stats)}\n`);
process.stdout.write(`decision cache: ${JSON.stringify(routers.cached.decisions.stats)}\n`);
await topology.close();
