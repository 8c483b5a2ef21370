// Micro benchmark of the routing hot path: keyspace hashing and planStatement on a parse-cache
// hit (facts already known, values resolved from the literal list). Prints per-operation times
// as the median over batches; no assertions. Run: npx vite-node bench/router-micro.ts
import { join } from 'node:path';
import { loadConfigFile } from '../src/config/load.js';
import { parseKeyRange } from '../src/domain/keyspace.js';
import {
  defaultSessionContext,
  type RoutingSession,
  type ServerView,
  type TopologyView,
} from '../src/router/inputs.js';
import { planStatement } from '../src/router/planner.js';
import { hashInt8, hashText, keyspaceIdFor } from '../src/router/sharding/hash.js';
import { emptyStatementFacts, type StatementFacts, type ValueRef } from '../src/sql/facts.js';

function demoView(): TopologyView {
  const config = loadConfigFile(join(process.cwd(), 'config', 'shardgate.yaml'));
  const server = (name: string, shard: string, role: 'primary' | 'replica'): ServerView => ({
    name,
    shard,
    role,
    healthy: true,
    drained: false,
    lagMs: role === 'primary' ? 0 : 5,
    position: '0/3000000',
    outstanding: 0,
    rttMs: 0.3,
  });
  return {
    version: 1,
    shards: config.shards.map((s) => ({
      name: s.name,
      range: parseKeyRange(s.keyRange),
      readOnly: false,
      primary: server(`${s.name}-primary`, s.name, 'primary'),
      replicas: s.replicas.map((_, i) => server(`${s.name}-replica${i + 1}`, s.name, 'replica')),
    })),
    defaultShard: config.routing.defaultShard ?? config.shards[0]!.name,
    tables: config.tables,
    dataTypes: config.dataTypes,
    routing: config.routing,
  };
}

function baseFacts(over: Partial<StatementFacts>): StatementFacts {
  return { ...emptyStatementFacts('read'), ...over };
}

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

const topology = demoView();
const session: RoutingSession = {
  context: defaultSessionContext(),
  inTransaction: false,
  transactionReadOnly: false,
  transactionShard: null,
  transactionServer: null,
  lastWritePositions: new Map([['s1', '0/2000000']]),
};
const literals = ['0'];
const resolve = (ref: ValueRef): string | null =>
  ref.kind === 'literal' ? (literals[ref.index] ?? null) : ref.kind === 'const' ? ref.value : null;
const resolveArray = () => null;
const ids = Array.from({ length: 4096 }, (_, i) => String(i * 7919 + 1));

const keyedRead = baseFacts({
  tables: ['posts'],
  keyConditions: [{ table: 'posts', column: 'user_id', values: [{ kind: 'literal', index: 0 }] }],
});
const keyedWrite = baseFacts({ ...keyedRead, kind: 'write', writeTables: ['posts'] });
const insert = baseFacts({
  kind: 'write',
  tables: ['posts'],
  writeTables: ['posts'],
  insert: {
    table: 'posts',
    columns: ['id', 'user_id'],
    rows: [
      [
        { kind: 'const', value: '1' },
        { kind: 'literal', index: 0 },
      ],
    ],
    fromSelect: false,
    onConflict: false,
    returning: false,
  },
});
const scatter = baseFacts({
  tables: ['likes'],
  select: {
    outputs: [{ name: 'id' }, { name: 'user_id' }],
    orderBy: [{ position: 1, name: 'id', desc: false, nullsFirst: false }],
    limit: { kind: 'const', value: '10' },
    offset: null,
    groupBy: [],
    distinct: false,
    hasAggregates: false,
    unmergeable: null,
  },
});

const plan = (facts: StatementFacts) => (i: number) => {
  literals[0] = ids[i & 4095]!;
  return planStatement({ facts, hints: {}, resolve, resolveArray, session, topology });
};

console.log(`node ${process.version}, ${process.arch}`);
measure('hashInt8 (number)', (i) => hashInt8(i * 7919));
measure('keyspaceIdFor(text "123...", int)', (i) => keyspaceIdFor(ids[i & 4095]!, 'int'));
measure('hashText (16 ASCII chars)', (i) => hashText(`user-${ids[i & 4095]!.padStart(11, '0')}`));
measure('planStatement keyed read (read_your_writes)', plan(keyedRead));
measure('planStatement keyed write', plan(keyedWrite));
measure('planStatement insert 1 row', plan(insert));
measure('planStatement scatter ORDER BY LIMIT', plan(scatter));
