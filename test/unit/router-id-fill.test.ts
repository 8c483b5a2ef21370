// INSERTs that omit a table's idColumn (demo: id) get Snowflake ids written into the text, per
// row, for every shard part; inside a transaction they are refused with a coded error.
import { beforeAll, describe, expect, it } from 'vitest';
import { Router } from '../../src/router/router.js';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { demoTopology, routingSession } from '../support/topology-fixture.js';

let router: Router;
beforeAll(async () => {
  const topology = demoTopology();
  router = new Router(await QueryAnalyzer.create({ cacheSize: 100 }), { view: () => topology });
});

describe('ids filled in by shardgate', () => {
  it('one row: a split INSERT of one part whose text carries the id', () => {
    const sql = "INSERT INTO users (user_id, name) VALUES (1, 'a') RETURNING id";
    const p = router.planSimple(sql, routingSession())[0]!.plan;
    if (p.type !== 'split-insert') throw new Error(`expected split-insert, got ${p.type}`);
    expect(p.parts.map((x) => x.target.shard)).toEqual(['s1']);
    expect(p.fillIds?.column).toBe('id');
    const id = p.fillIds!.values[0]!;
    expect(id).toMatch(/^\d{10,19}$/);
    expect(router.insertRowsSql(sql, [0], null, [], p.fillIds)).toBe(
      `INSERT INTO users (user_id, name, id) VALUES (1, 'a', ${id}) RETURNING id`,
    );
  });

  it('several rows on two shards, with parameters: distinct ids, each row keeps its own', () => {
    const sql = 'INSERT INTO posts (user_id, title) VALUES ($1, $2), ($3, $4)';
    const bind = { values: ['1', 'x', '2', 'y'].map((v) => Buffer.from(v)), formats: [], types: [] };
    const p = router.planExtended(sql, routingSession(), bind)[0]!.plan;
    if (p.type !== 'split-insert') throw new Error(`expected split-insert, got ${p.type}`);
    const [a, b] = p.fillIds!.values;
    expect(a).not.toBe(b);
    const parts = p.parts.map((part) =>
      router.insertRowsSql(sql, part.rows, { values: bind.values, paramFormats: [] }, [], p.fillIds),
    );
    expect(parts).toEqual([
      `INSERT INTO posts (user_id, title, id) VALUES ('2', 'y', ${b})`,
      `INSERT INTO posts (user_id, title, id) VALUES ('1', 'x', ${a})`,
    ]);
  });

  it('the id given: the plain single-shard path', () => {
    const p = router.planSimple('INSERT INTO users (id, user_id) VALUES (5, 1)', routingSession())[0]!.plan;
    expect(p.type).toBe('single');
  });

  it('inside a transaction: refused, saying what to do', () => {
    const session = routingSession({ inTransaction: true });
    const p = router.planSimple("INSERT INTO users (user_id, name) VALUES (1, 'a')", session)[0]!.plan;
    expect(p).toMatchObject({ type: 'error', code: 'ID_FILL_IN_TRANSACTION', params: { column: 'id' } });
  });
});
