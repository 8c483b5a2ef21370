// The MySQL aggregate program end to end without sockets: the real analyzer and planner merge
// spec, the per-shard SQL the rewrite writes, and the merge of rows two fake shards return for
// it (what MariaDB returns for that SQL), checked against what one MariaDB answers on all rows.
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { parseDecimal } from '../../src/executor/decimal.js';
import { ResultMerger } from '../../src/executor/merger.js';
import { divideMysql, encodeMysqlCell, parseJsonArray } from '../../src/executor/mysql-values.js';
import type { ColumnInfo, Row } from '../../src/executor/rows.js';
import { mergeFor } from '../../src/router/merge-spec.js';
import type { MergeSpec } from '../../src/router/plan.js';
import { resolveValue } from '../../src/sql/analyzer.js';
import { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';
import { rewriteForScatterMysql } from '../../src/sql/mysql/scatter-rewrite-mysql.js';

const analyzer = new MysqlQueryAnalyzer({ cacheSize: 10 });

function plan(sql: string): { merge: MergeSpec; shardSql: string } {
  const a = analyzer.analyze(sql);
  const decision = mergeFor(a.facts.statements[0]!.select, (ref) => resolveValue(ref, a.literals, []), {
    shardKeys: new Set(['user_id']),
    sharded: new Set(['payments', 'posts']),
  });
  if ('unsupported' in decision) throw new Error(decision.unsupported);
  return { merge: decision.merge!, shardSql: rewriteForScatterMysql(sql, decision.rewrite!) };
}

const b = (s: string | null) => (s === null ? null : Buffer.from(s));
const int = (name: string): ColumnInfo => ({ name, typeOid: 20, format: 'text' });
const dec = (name: string, scale: number): ColumnInfo => ({ name, typeOid: 1700, format: 'text', scale });
const text = (name: string): ColumnInfo => ({
  name,
  typeOid: 25,
  format: 'text',
  textCompare: 'general_ci',
  maxBytes: 1024,
});

function merge(spec: MergeSpec, columns: ColumnInfo[], shards: Array<Array<Array<string | null>>>) {
  const merger = new ResultMerger(spec, columns, { maxRows: 1000 });
  shards.forEach((rows, i) => {
    for (const r of rows) merger.add(i, r.map(b) as Row);
  });
  return merger.finish().map((r) => r.map((c) => (c === null ? null : c.toString())));
}

describe('MySQL aggregate program', () => {
  // SQL in; the per-shard SQL the rewrite writes; the rows two fake shards return for it, merged.
  for (const { title, sql, shardSql, columns, shards, want } of [
    {
      title: 'round(avg(x), 2) and sum(x) / count(*) with DECIMAL scale + 4, grouped under general_ci',
      sql: 'SELECT currency, round(avg(amount), 2) AS a, sum(amount) / nullif(count(*), 0) AS q FROM payments GROUP BY currency ORDER BY 1',
      shardSql:
        'SELECT currency, round(avg(amount), 2) AS a, sum(amount) / nullif(count(*), 0) AS q, sum(`amount`), count(`amount`), sum(`amount`), count(*) FROM payments GROUP BY currency ORDER BY 1',
      columns: [
        text('currency'),
        dec('a', 2),
        dec('q', 6),
        dec('sum', 2),
        int('count'),
        dec('sum', 2),
        int('count'),
      ],
      // 'eur' on one shard and 'EUR' on the other are one group under utf8mb4_general_ci.
      shards: [
        [['EUR', 'x', 'x', '10.00', '2', '10.00', '2']],
        [
          ['eur', 'x', 'x', '0.01', '1', '0.01', '1'],
          ['USD', 'x', 'x', '1.00', '3', '1.00', '3'],
        ],
      ],
      // (10.00 + 0.01) / 3 = 3.336666..: AVG is 3.336667 (scale 2 + 4), then ROUND to 2.
      want: [
        ['EUR', '3.34', '3.336667'],
        ['USD', '0.33', '0.333333'],
      ],
    },
    {
      title: 'count(DISTINCT x) unites the shards JSON_ARRAYAGG sets, equal under the collation',
      sql: 'SELECT count(DISTINCT status) AS v FROM payments',
      shardSql:
        'SELECT count(DISTINCT status) AS v, count(DISTINCT `status`), JSON_ARRAYAGG(DISTINCT `status`), min(`status`) FROM payments',
      columns: [int('v'), int('c'), text('json'), text('status')],
      shards: [[['2', '2', '["paid","open"]', 'open']], [['2', '2', '["PAID","void"]', 'PAID']]],
      want: [['3']],
    },
    {
      title:
        'GROUP_CONCAT(DISTINCT x ORDER BY x DESC SEPARATOR s) merges the ordered lists and drops repeats',
      sql: "SELECT group_concat(DISTINCT user_id ORDER BY user_id DESC SEPARATOR ';') AS g FROM posts",
      shardSql: expect.stringContaining(
        'JSON_ARRAYAGG(CAST(`user_id` AS CHAR) ORDER BY `user_id` DESC), JSON_ARRAYAGG(`user_id` ORDER BY `user_id` DESC), min(`user_id`)',
      ),
      columns: [text('g'), text('v'), text('k'), int('user_id')],
      shards: [[['x', '["10","9","9"]', '[10,9,9]', '9']], [['x', '["12","10","2"]', '[12,10,2]', '2']]],
      want: [['12;10;9;2']],
    },
    {
      title: 'HAVING over an expression is evaluated on the merged groups and removed per shard',
      sql: 'SELECT user_id, max(id) - min(id) AS spread FROM posts GROUP BY user_id HAVING max(id) - min(id) >= 5 ORDER BY 1',
      shardSql: expect.not.stringMatching(/HAVING/i),
      columns: [int('user_id'), int('spread'), int('max'), int('min')],
      shards: [
        [
          ['1', 'x', '9', '7'],
          ['2', 'x', '3', '3'],
        ],
        [['1', 'x', '6', '2']],
      ],
      want: [['1', '7']],
    },
  ])
    it(title, () => {
      const planned = plan(sql);
      expect(planned.shardSql).toEqual(shardSql);
      expect(merge(planned.merge, columns, shards)).toEqual(want);
    });

  it('STDDEV is the population deviation, printed to the column decimals', () => {
    const { merge: spec } = plan('SELECT stddev(user_id) AS s FROM posts');
    const cols: ColumnInfo[] = [
      { name: 's', typeOid: 701, format: 'text', scale: 4 },
      { name: 'call', typeOid: 701, format: 'text' },
      int('count'),
      dec('sum', 0),
      dec('sumsq', 0),
    ];
    // Values 1, 2 | 3, 4: population variance 1.25, deviation 1.118033988...
    const rows = merge(spec, cols, [[['x', 'x', '2', '3', '5']], [['x', 'x', '2', '7', '25']]]);
    expect(rows).toEqual([['1.1180']]);
  });

  it('refuses what it cannot compute exactly, with the reason', () => {
    expect(() => plan('SELECT bit_or(user_id) + 1 FROM payments')).toThrow(/bit_or/);
    expect(() => plan('SELECT group_concat(DISTINCT status ORDER BY id) FROM payments')).toThrow(
      /ordered by anything but its value/,
    );
    expect(() => plan('SELECT round(avg(amount * 2), 1) FROM payments')).toThrow(
      /argument other than a column/,
    );
  });
});

describe('MySQL value rules', () => {
  it('reads JSON_ARRAYAGG lists keeping number text, and refuses a truncated one', () => {
    expect(parseJsonArray('[1, "a\\"b", null, 12.50, true]').map((e) => e.value)).toEqual([
      '1',
      'a"b',
      null,
      '12.50',
      '1',
    ]);
    expect(parseJsonArray('[]')).toEqual([]);
    expect(() => parseJsonArray('[1,2,"ab')).toThrow(ShardgateError);
    expect(() => parseJsonArray('[1,2] x')).toThrow(ShardgateError);
  });
  it('divides at the dividend scale + 4, rounding half away from zero; x / 0 is NULL', () => {
    expect(divideMysql(parseDecimal('2'), parseDecimal('3'))).toEqual(parseDecimal('0.6667'));
    expect(divideMysql(parseDecimal('-1.00'), parseDecimal('8'))).toEqual(parseDecimal('-0.125000'));
    expect(divideMysql(parseDecimal('1'), parseDecimal('0'))).toBeNull();
  });
  it('prints a value as its column does, and refuses text past the column length', () => {
    expect(encodeMysqlCell({ type: 'numeric', v: parseDecimal('1.5') }, dec('d', 3))?.toString()).toBe(
      '1.500',
    );
    expect(encodeMysqlCell({ type: 'int8', v: 7n }, dec('d', 0))?.toString()).toBe('7');
    expect(() => encodeMysqlCell({ type: 'text', v: 'x'.repeat(2000) }, text('g'))).toThrow(
      /group_concat_max_len/,
    );
    expect(() => encodeMysqlCell({ type: 'text', v: 'x' }, int('i'))).toThrow(ShardgateError);
  });
});
