// Pure pieces of the MySQL side: the variable replay statement, the SQL rewrites for multi-shard
// execution, KILL parsing, the merge helpers (types, AVG rounding) and replica lag from GTIDs.
import { describe, expect, it } from 'vitest';
import { replicaLagMs } from '../../src/backend/mysql-prober.js';
import { ShardgateError } from '../../src/errors.js';
import { ResultMerger } from '../../src/executor/merger.js';
import { textColumn } from '../../src/protocol/mysql/columns.js';
import { STATUS, TYPE } from '../../src/protocol/mysql/constants.js';
import { parseKill } from '../../src/protocol/mysql/kill.js';
import { mergeColumn, roundDecimal } from '../../src/protocol/mysql/scatter-runner.js';
import { variableLiteral, variablesDiff } from '../../src/protocol/mysql/server-binding.js';
import { localStatus, newSessionState } from '../../src/protocol/mysql/session-state.js';
import { inlineInsertRowsMysql, inlineParams, sqlLiteral } from '../../src/protocol/mysql/sql-inline.js';
import type { MergeSpec } from '../../src/router/plan.js';
import { mergeSpec } from '../support/merge-spec.js';

describe('session variable replay', () => {
  it('sets what differs and puts back to DEFAULT what the session never set', () => {
    const want = new Map([
      ['sql_mode', 'ANSI_QUOTES'],
      ['wait_timeout', '100'],
      ['autocommit', 'ON'],
    ]);
    const have = new Map([
      ['autocommit', 'ON'],
      ['time_zone', '+01:00'],
      ['last_gtid', '1-1-1'],
    ]);
    expect(variablesDiff(want, have)).toBe(
      "SET @@session.`sql_mode` = 'ANSI_QUOTES', @@session.`wait_timeout` = 100, @@session.`time_zone` = DEFAULT",
    );
    expect(variablesDiff(have, have)).toBeNull();
  });

  it('moves the character sets with SET NAMES ... COLLATE, which also sets the collation of results', () => {
    const names = (coll: string) =>
      new Map([
        ['character_set_client', 'utf8mb4'],
        ['character_set_results', 'utf8mb4'],
        ['character_set_connection', 'utf8mb4'],
        ['collation_connection', coll],
      ]);
    const want = new Map([...names('utf8mb4_unicode_ci'), ['time_zone', '+01:00']]);
    expect(variablesDiff(want, names('utf8mb4_general_ci'))).toBe(
      "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci', @@session.`time_zone` = '+01:00'",
    );
    // Mixed character sets: one variable at a time, as before.
    const mixed = new Map([...names('utf8mb4_general_ci'), ['character_set_results', 'latin1']]);
    expect(variablesDiff(mixed, names('utf8mb4_general_ci'))).toBe(
      "SET @@session.`character_set_results` = 'latin1'",
    );
  });

  it('quotes values so they read the same in any sql_mode', () => {
    expect(variableLiteral('character_set_results', '')).toBe('NULL');
    expect(variableLiteral('sql_mode', "it's")).toBe("'it''s'");
    expect(variableLiteral('x', 'a\\b')).toBe(`X'${Buffer.from('a\\b').toString('hex')}'`);
    expect(variableLiteral('x', '-1.5')).toBe('-1.5');
  });

  it('reports status flags from the session for local replies', () => {
    const s = newSessionState({
      connectionId: 1,
      user: 'u',
      capabilities: 0,
      collation: 45,
      schema: 'db',
      charsetVars: [],
    });
    expect(localStatus(s) & STATUS.AUTOCOMMIT).toBeTruthy();
    s.deferredBegin = 'BEGIN';
    expect(localStatus(s) & STATUS.IN_TRANS).toBeTruthy();
    s.vars.set('autocommit', 'OFF');
    expect(localStatus(s) & STATUS.AUTOCOMMIT).toBe(0);
  });
});

describe('SQL rewrites for several shards', () => {
  it('inlines parameters by position, numbers bare and text quoted, leaving strings alone', () => {
    const sql = "SELECT '?', `?` FROM t WHERE a = ? AND b = ? /* ? */ AND c IN (?, ?)";
    expect(
      inlineParams(sql, [
        { text: '5', numeric: true },
        { text: "o'k", numeric: false },
        { text: null, numeric: false },
        { text: '07', numeric: false },
      ]),
    ).toBe("SELECT '?', `?` FROM t WHERE a = 5 AND b = 'o''k' /* ? */ AND c IN (NULL, '07')");
    expect(sqlLiteral({ text: '1; DROP TABLE x', numeric: true })).toBe("'1; DROP TABLE x'");
    expect(sqlLiteral({ text: 'a\\b', numeric: false })).toMatch(/^_utf8mb4 X'/);
    expect(() => inlineParams('SELECT ?, ?', [{ text: '1', numeric: true }])).toThrow(ShardgateError);
  });

  it('keeps only the chosen VALUES rows of an INSERT, with what follows them', () => {
    const sql =
      "INSERT INTO likes (id, user_id, note) VALUES (1, ?, 'a,(b)'), (2, ?, 'c'), (3, 9, ?) ON DUPLICATE KEY UPDATE note = VALUES(note)";
    const values = [
      { text: '7', numeric: true },
      { text: '8', numeric: true },
      { text: 'z', numeric: false },
    ];
    expect(inlineInsertRowsMysql(sql, [0, 2], values)).toBe(
      "INSERT INTO likes (id, user_id, note) VALUES (1, 7, 'a,(b)'), (3, 9, 'z') ON DUPLICATE KEY UPDATE note = VALUES(note)",
    );
    expect(inlineInsertRowsMysql('REPLACE INTO t VALUE (1), (2)', [1], [])).toBe('REPLACE INTO t VALUE (2)');
    expect(() => inlineInsertRowsMysql('INSERT INTO t SELECT * FROM u', [0], [])).toThrow(ShardgateError);
  });
});

describe('KILL', () => {
  it('parses the forms MySQL and MariaDB accept', () => {
    expect(parseKill('KILL 5')).toEqual({ query: false, id: 5 });
    expect(parseKill('kill query 1000000001;')).toEqual({ query: true, id: 1000000001 });
    expect(parseKill('KILL CONNECTION 3')).toEqual({ query: false, id: 3 });
    expect(parseKill('KILL HARD QUERY ID 9')).toEqual({ query: true, id: 9 });
    expect(parseKill('KILL USER bob')).toBeNull();
    expect(parseKill('SELECT 1')).toBeNull();
  });
});

describe('merge helpers', () => {
  it('compares MySQL columns by their type family', () => {
    expect(mergeColumn({ ...textColumn('a'), type: TYPE.LONGLONG }).typeOid).toBe(20);
    expect(mergeColumn({ ...textColumn('a'), type: TYPE.DOUBLE }).typeOid).toBe(701);
    expect(mergeColumn({ ...textColumn('a'), type: TYPE.NEWDECIMAL }).typeOid).toBe(1700);
    expect(mergeColumn(textColumn('a')).typeOid).toBe(25);
  });

  it('orders, groups and deduplicates text under its collation (found by the MySQL oracle)', () => {
    const ci = mergeColumn(textColumn('name'), 45);
    expect(ci.textCompare).toBe('general_ci');
    expect(mergeColumn(textColumn('b'), 46).textCompare).toBe('bytes');
    expect(mergeColumn(textColumn('u'), 224).textCompare).toBe('unsupported');
    // The definition's label is the connection's collation, not the column's: never trusted.
    expect(mergeColumn({ ...textColumn('l'), collation: 45 }).textCompare).toBe('unsupported');
    expect(mergeColumn({ ...textColumn('l'), collation: 46 }).textCompare).toBe('unsupported');
    const merge = (spec: Partial<MergeSpec>, shards: string[][], col = ci) => {
      const m = new ResultMerger(mergeSpec(spec), [col], { maxRows: 100 });
      shards.forEach((rows, i) => {
        for (const r of rows) m.add(i, [Buffer.from(r)]);
      });
      return m.finish().map((r) => r[0]!.toString());
    };
    const order = { orderBy: [{ column: 0, desc: false, nullsFirst: true }] };
    expect(
      merge(order, [
        ['Bob', 'Zed'],
        ['adam', 'bob '],
      ]),
    ).toEqual(['adam', 'Bob', 'bob ', 'Zed']);
    expect(merge({ distinct: true }, [['Bob'], ['bob ', 'adam']])).toEqual(['Bob', 'adam']);
    expect(merge({ aggregates: [{ column: 0, fn: 'max' }] }, [['Zed'], ['adam']])).toEqual(['Zed']);
    expect(() => merge(order, [['Émile'], ['adam']])).toThrow(/non-ASCII/);
    expect(() => merge(order, [['a'], ['B']], mergeColumn(textColumn('u'), 224))).toThrow(/collation/);
  });

  it('rounds AVG results half away from zero to the DECIMAL scale', () => {
    expect(roundDecimal('1.3333333333333333', 4)).toBe('1.3333');
    expect(roundDecimal('2.5', 4)).toBe('2.5000');
    expect(roundDecimal('0.00005', 4)).toBe('0.0001');
    expect(roundDecimal('-0.00004', 4)).toBe('0.0000');
    expect(roundDecimal('-1.99995', 4)).toBe('-2.0000');
    expect(roundDecimal('7', 0)).toBe('7');
  });
});

describe('replica lag', () => {
  it('is zero when the replica covers its primary, rounded up from Seconds_Behind_Master, unknown stays unknown', () => {
    expect(replicaLagMs('1-100-7,0-1-3', '1-100-7', 5)).toBe(0);
    expect(replicaLagMs('1-100-6', '1-100-7', 0)).toBe(999);
    expect(replicaLagMs('1-100-6', '1-100-7', 2)).toBe(2999);
    expect(replicaLagMs('1-100-6', '1-100-7', null)).toBeNull();
    expect(replicaLagMs(null, '1-100-7', null)).toBeNull();
    expect(replicaLagMs('1-100-6', null, 1)).toBe(1999);
  });
});
