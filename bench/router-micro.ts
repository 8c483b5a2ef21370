// Micro benchmark of the routing hot path: keyspace hashing and planStatement on a parse-cache
// hit (facts already known, values resolved from the literal list). Prints per-operation times
// as the median over batches; no assertions. Run: npx vite-node bench/router-micro.ts
import { planStatement } from '../src/router/planner.js';
import { hashInt8, hashText, keyspaceIdFor } from '../src/router/sharding/hash.js';
import type { StatementFacts, ValueRef } from '../src/sql/facts.js';
// The unit tests' demo topology, session and hand-built facts (run from source: vite-node).
import { facts, insertPosts, select } from '../test/support/router-facts.js';
import { demoTopology, routingSession } from '../test/support/topology-fixture.js';

/** Median ns per call over `batches` batches of `size` calls. */
function measure(name: string, fn: (i: number) => unknown, batches = 200, size = 2000): void {
  let sink: unknown;
  for (let i = 0; i < 20_000; i++) sink = fn(i); // warm up the JIT
  const perOp: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < size; i++) sink = fn(b * size + i);
    perOp.push(Number(process.hrtime.bigint() - t0) / size);
  }
  perOp.sort((x, y) => x - y);
  const median = perOp[Math.floor(perOp.length / 2)]!;
  const p90 = perOp[Math.floor(perOp.length * 0.9)]!;
  console.log(
    `${name.padEnd(44)} median ${median.toFixed(0).padStart(6)} ns   p90 ${p90.toFixed(0).padStart(6)} ns`,
  );
  if (sink === Symbol.for('never')) console.log('');
}

const topology = demoTopology();
const session = routingSession({ lastWritePositions: { s1: '0/2000000' } });
const literals = ['0'];
const resolve = (ref: ValueRef): string | null =>
  ref.kind === 'literal' ? (literals[ref.index] ?? null) : ref.kind === 'const' ? ref.value : null;
const resolveArray = () => null;
const ids = Array.from({ length: 4096 }, (_, i) => String(i * 7919 + 1));

const keyedRead = facts({
  tables: ['posts'],
  keyConditions: [{ table: 'posts', column: 'user_id', values: [{ kind: 'literal', index: 0 }] }],
});
const keyedWrite = facts({ ...keyedRead, kind: 'write', writeTables: ['posts'] });
const insert = insertPosts([
  [
    { kind: 'const', value: '1' },
    { kind: 'literal', index: 0 },
  ],
]);
const scatter = facts({
  tables: ['likes'],
  select: select({
    orderBy: [{ position: 1, name: 'id', desc: false, nullsFirst: false }],
    limit: { kind: 'const', value: '10' },
  }),
});

const plan = (statement: StatementFacts) => (i: number) => {
  literals[0] = ids[i & 4095]!;
  return planStatement({ facts: statement, hints: {}, resolve, resolveArray, session, topology });
};

console.log(`node ${process.version}, ${process.arch}`);
measure('hashInt8 (number)', (i) => hashInt8(i * 7919));
measure('keyspaceIdFor(text "123...", int)', (i) => keyspaceIdFor(ids[i & 4095]!, 'int'));
measure('hashText (16 ASCII chars)', (i) => hashText(`user-${ids[i & 4095]!.padStart(11, '0')}`));
measure('planStatement keyed read (read_your_writes)', plan(keyedRead));
measure('planStatement keyed write', plan(keyedWrite));
measure('planStatement insert 1 row', plan(insert));
measure('planStatement scatter ORDER BY LIMIT', plan(scatter));
