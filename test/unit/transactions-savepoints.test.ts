// The savepoint stack of a transaction (src/transactions/savepoints.ts) under each database's
// rules, and the savepoint names both analyzers read.
import { beforeAll, describe, expect, it } from 'vitest';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';
import { MYSQL_SAVEPOINTS, PG_SAVEPOINTS, SavepointStack } from '../../src/transactions/savepoints.js';

/** A stack under these rules with these savepoints taken, oldest first. */
function stack(rules: typeof PG_SAVEPOINTS, ...names: string[]): SavepointStack {
  const s = new SavepointStack(rules);
  for (const name of names) s.savepoint(name);
  return s;
}

describe('savepoint stack, PostgreSQL rules', () => {
  it('ROLLBACK TO keeps the savepoint and drops newer ones; RELEASE drops it too', () => {
    const s = stack(PG_SAVEPOINTS, 'a', 'b', 'c');
    expect(s.rollbackTo('b')).toBe(true);
    expect(s.active).toEqual(['a', 'b']);
    expect(s.release('a')).toBe(true);
    expect(s.active).toEqual([]);
  });

  it('a name used twice hides the older one until released', () => {
    const s = stack(PG_SAVEPOINTS, 'a', 'b', 'a');
    expect(s.release('a')).toBe(true);
    expect(s.active).toEqual(['a', 'b']);
    expect(s.rollbackTo('a')).toBe(true);
    expect(s.active).toEqual(['a']);
  });

  it('names compare exactly (the parser already folded unquoted ones)', () => {
    const s = stack(PG_SAVEPOINTS, 'Mixed');
    expect(s.has('mixed')).toBe(false);
    expect(s.rollbackTo('nope')).toBe(false);
    expect(s.release('mixed')).toBe(false);
    expect(s.active).toEqual(['Mixed']);
  });

  it('replays quoted names, oldest first', () => {
    const s = stack(PG_SAVEPOINTS, 'a', 'Odd "name"');
    expect(s.replay()).toEqual(['SAVEPOINT "a"', 'SAVEPOINT "Odd ""name"""']);
  });

  it('tracks what a message run on one server did', () => {
    const s = new SavepointStack(PG_SAVEPOINTS);
    s.track([{ action: 'begin', name: null }], true);
    s.track(
      [
        { action: 'savepoint', name: 'a' },
        { action: 'savepoint', name: 'b' },
      ],
      true,
    );
    // BEGIN inside a transaction is only a warning on PostgreSQL.
    s.track([{ action: 'begin', name: null }], true);
    expect(s.active).toEqual(['a', 'b']);
    // One failed savepoint statement changed nothing.
    s.track([{ action: 'rollback_to', name: 'x' }], false);
    expect(s.known).toBe(true);
    expect(s.active).toEqual(['a', 'b']);
    // Several statements with a savepoint among them failed part way: unknown.
    s.track(
      [
        { action: 'savepoint', name: 'c' },
        { action: 'savepoint', name: 'd' },
      ],
      false,
    );
    expect(s.known).toBe(false);
    s.track([{ action: 'rollback', name: null }], true);
    expect(s.known).toBe(true);
    expect(s.active).toEqual([]);
  });

  it('an unreadable name makes the stack unknown', () => {
    const s = new SavepointStack(PG_SAVEPOINTS);
    s.track([{ action: 'savepoint', name: null }], true);
    expect(s.known).toBe(false);
    s.clear();
    expect(s.known).toBe(true);
  });
});

describe('savepoint stack, MySQL rules', () => {
  it('a name used again moves to the top; names compare case-insensitively', () => {
    const s = stack(MYSQL_SAVEPOINTS, 'a', 'b', 'A');
    expect(s.active).toEqual(['b', 'A']);
    expect(s.rollbackTo('B')).toBe(true);
    expect(s.active).toEqual(['b']);
    expect(s.release('x')).toBe(false);
    expect(s.replay()).toEqual(['SAVEPOINT `b`']);
  });

  it('BEGIN inside a transaction commits it: the savepoints go', () => {
    const s = stack(MYSQL_SAVEPOINTS, 'a');
    s.track([{ action: 'begin', name: null }], true);
    expect(s.active).toEqual([]);
  });

  it('replays backtick-quoted names', () => {
    const s = stack(MYSQL_SAVEPOINTS, 'we`ird');
    expect(s.replay()).toEqual(['SAVEPOINT `we``ird`']);
  });
});

describe('savepoint names in statement facts', () => {
  let analyzers: { postgres: QueryAnalyzer; mysql: MysqlQueryAnalyzer };
  beforeAll(async () => {
    analyzers = {
      postgres: await QueryAnalyzer.create({ cacheSize: 0 }),
      mysql: new MysqlQueryAnalyzer({ cacheSize: 0 }),
    };
  });
  const txn = (dialect: 'postgres' | 'mysql', sql: string) =>
    analyzers[dialect].analyze(sql).facts.statements[0]!.transaction;

  // PostgreSQL folds unquoted names and keeps quoted ones; MySQL keeps names as written, backticks removed.
  it.each([
    ['postgres', 'SAVEPOINT Outer_1', 'savepoint', 'outer_1'],
    ['postgres', 'ROLLBACK TO SAVEPOINT "Inner"', 'rollback_to', 'Inner'],
    ['postgres', 'ROLLBACK TO x', 'rollback_to', 'x'],
    ['postgres', 'RELEASE SAVEPOINT y', 'release', 'y'],
    ['postgres', 'RELEASE z', 'release', 'z'],
    ['mysql', 'SAVEPOINT Outer_1', 'savepoint', 'Outer_1'],
    ['mysql', 'SAVEPOINT `in ner`', 'savepoint', 'in ner'],
    ['mysql', 'ROLLBACK TO SAVEPOINT a', 'rollback_to', 'a'],
    ['mysql', 'ROLLBACK WORK TO b', 'rollback_to', 'b'],
    ['mysql', 'ROLLBACK TO savepoint', 'rollback_to', 'savepoint'],
    ['mysql', 'RELEASE SAVEPOINT c', 'release', 'c'],
  ] as const)('%s: %s -> %s %s', (dialect, sql, action, savepoint) => {
    expect(txn(dialect, sql)).toMatchObject({ action, savepoint });
  });

  it('a plain ROLLBACK names no savepoint', () => {
    expect(txn('postgres', 'ROLLBACK')?.savepoint).toBeUndefined();
    expect(txn('mysql', 'ROLLBACK')?.action).toBe('rollback');
  });
});
