// The savepoint stack of a transaction (src/transactions/savepoints.ts) under each database's
// rules, and the savepoint names both analyzers read.
import { describe, expect, it } from 'vitest';
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
  it('PostgreSQL: unquoted names folded, quoted kept', async () => {
    const a = await QueryAnalyzer.create({ cacheSize: 0 });
    const txn = (sql: string) => a.analyze(sql).facts.statements[0]!.transaction;
    expect(txn('SAVEPOINT Outer_1')).toMatchObject({ action: 'savepoint', savepoint: 'outer_1' });
    expect(txn('ROLLBACK TO SAVEPOINT "Inner"')).toMatchObject({ action: 'rollback_to', savepoint: 'Inner' });
    expect(txn('ROLLBACK TO x')).toMatchObject({ action: 'rollback_to', savepoint: 'x' });
    expect(txn('RELEASE SAVEPOINT y')).toMatchObject({ action: 'release', savepoint: 'y' });
    expect(txn('RELEASE z')).toMatchObject({ action: 'release', savepoint: 'z' });
    expect(txn('ROLLBACK')?.savepoint).toBeUndefined();
  });

  it('MySQL: names as written, backticks removed', () => {
    const a = new MysqlQueryAnalyzer({ cacheSize: 0 });
    const txn = (sql: string) => a.analyze(sql).facts.statements[0]!.transaction;
    expect(txn('SAVEPOINT Outer_1')).toMatchObject({ action: 'savepoint', savepoint: 'Outer_1' });
    expect(txn('SAVEPOINT `in ner`')).toMatchObject({ action: 'savepoint', savepoint: 'in ner' });
    expect(txn('ROLLBACK TO SAVEPOINT a')).toMatchObject({ action: 'rollback_to', savepoint: 'a' });
    expect(txn('ROLLBACK WORK TO b')).toMatchObject({ action: 'rollback_to', savepoint: 'b' });
    expect(txn('ROLLBACK TO savepoint')).toMatchObject({ action: 'rollback_to', savepoint: 'savepoint' });
    expect(txn('RELEASE SAVEPOINT c')).toMatchObject({ action: 'release', savepoint: 'c' });
    expect(txn('ROLLBACK')?.action).toBe('rollback');
  });
});
