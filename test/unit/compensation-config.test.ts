// crossShard: compensate is checked at load (a data type without compensations for its tables is
// a config error that says what to add), and templates are filled from the statement's values.
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { QueryAnalyzer, resolveValue } from '../../src/sql/analyzer.js';
import {
  compensationFor,
  fillTemplate,
  templateNames,
} from '../../src/transactions/compensation-template.js';

const base = {
  shards: [{ name: 's0', primary: { host: '127.0.0.1', port: 5432 } }],
  tables: { transfers: { shardKey: 'user_id' }, ledger: { shardKey: 'user_id' } },
  users: [{ name: 'app', password: 'app' }],
};

function problems(dataTypes: Record<string, unknown>): string {
  try {
    parseConfig({ ...base, dataTypes });
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('crossShard: compensate config', () => {
  it('is refused without a compensating statement for each of its tables, naming what to add', () => {
    const msg = problems({
      money: {
        level: 'strong',
        crossShard: 'compensate',
        tables: ['transfers', 'ledger'],
        compensations: { transfers: { insert: 'DELETE FROM transfers WHERE id = :id' } },
      },
    });
    expect(msg).toContain('dataTypes.money: crossShard: compensate needs compensations.ledger');
    expect(msg).not.toContain('compensations.transfers with');
  });

  it('is accepted with compensations for every table', () => {
    expect(
      problems({
        money: {
          level: 'strong',
          crossShard: 'compensate',
          tables: ['transfers'],
          compensations: { transfers: { insert: 'DELETE FROM transfers WHERE id = :id' } },
        },
      }),
    ).toBe('');
  });

  it('refuses compensations under another choice, for a foreign table, and an insert template naming no value', () => {
    expect(
      problems({
        money: {
          level: 'strong',
          tables: ['transfers'],
          compensations: { transfers: { insert: 'DELETE FROM transfers WHERE id = :id' } },
        },
      }),
    ).toContain('only a data type with crossShard: compensate uses compensations (it has two_phase)');
    const msg = problems({
      money: {
        level: 'strong',
        crossShard: 'compensate',
        tables: ['transfers'],
        compensations: { transfers: { insert: 'DELETE FROM transfers' }, ledger: { delete: 'SELECT 1' } },
      },
    });
    expect(msg).toContain('compensations.ledger: "ledger" is not one of the data type\'s tables');
    expect(msg).toContain('compensations.transfers.insert: the statement names no :column');
    expect(problems({ money: { level: 'strong', crossShard: 'sometimes', tables: ['transfers'] } })).toMatch(
      /dataTypes\.money\.crossShard/,
    );
  });
});

describe('compensating templates', () => {
  it('names values outside quotes and casts, and quotes what it fills in', () => {
    expect(templateNames("UPDATE t SET note = ':no' WHERE id = :id::bigint AND k = :K")).toEqual(['id', 'k']);
    expect(
      fillTemplate(
        'DELETE FROM t WHERE id = :id AND n = :n',
        new Map([
          ['id', "a'b"],
          ['n', null],
        ]),
      ),
    ).toBe("DELETE FROM t WHERE id = 'a''b' AND n = NULL");
    expect(() => fillTemplate('DELETE FROM t WHERE id = :id', new Map())).toThrow('no value for :id');
    expect(fillTemplate('DELETE FROM t WHERE k = :k', new Map([['k', "a\\'b"]]))).toBe(
      "DELETE FROM t WHERE k = E'a\\\\''b'",
    );
  });

  const dataTypes = {
    money: {
      crossShard: 'compensate',
      tables: ['transfers'],
      compensations: {
        transfers: {
          insert: 'DELETE FROM transfers WHERE id = :id',
          update: 'UPDATE transfers SET state = :old WHERE id = :id',
        },
      },
    },
  };
  let analyzer: QueryAnalyzer;
  beforeAll(async () => {
    analyzer = await QueryAnalyzer.create({ cacheSize: 10 });
  });
  const noteOf = (sql: string, params: Array<string | null> = []) => {
    const a = analyzer.analyze(sql);
    const facts = a.facts.statements[0]!;
    return compensationFor(facts, (ref) => resolveValue(ref, a.literals, params), dataTypes);
  };

  it('gives one compensation per inserted row, from literals and parameters', () => {
    expect(noteOf('INSERT INTO transfers (id, user_id) VALUES (7, 1), ($1, 2)', ['8'])).toEqual({
      sql: ["DELETE FROM transfers WHERE id = '7'", "DELETE FROM transfers WHERE id = '8'"],
    });
  });

  it('gives a reason when it cannot undo: a missing value, a kind without template, another data type', () => {
    expect(noteOf('UPDATE transfers SET state = 1 WHERE id = 3')).toEqual({
      reason: 'the update compensation of transfers: no value for :old in the statement',
    });
    expect(noteOf('DELETE FROM transfers WHERE id = 3')).toEqual({
      reason: 'data type money declares no delete compensation for transfers',
    });
    expect(noteOf('INSERT INTO ledger (id) VALUES (1)')).toEqual({
      reason: 'table ledger is in no data type (crossShard: compensate needs one)',
    });
    expect(noteOf('INSERT INTO transfers SELECT * FROM transfers')).toMatchObject({ reason: /column list/ });
    expect(noteOf('SELECT * FROM transfers WHERE id = 1 FOR UPDATE')).toBeNull();
  });
});
