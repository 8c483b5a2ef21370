// Parsing must not stall the event loop: statement texts past limits.maxStatementTokens are
// refused by the tokenizer (before the parser sees them), nested SHARDGATE EXPLAIN is refused,
// in both dialects.
import { beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';

const defaults = configSchema.parse({
  users: [{ name: 'u' }],
  shards: [{ name: 's0', primary: { port: 5432 } }],
});
const maxStatementTokens = defaults.limits.maxStatementTokens;

let pg: QueryAnalyzer;
let my: MysqlQueryAnalyzer;

beforeAll(async () => {
  pg = await QueryAnalyzer.create({ cacheSize: 100, maxStatementTokens });
  my = await MysqlQueryAnalyzer.create({ cacheSize: 100, maxStatementTokens });
});

/** `SELECT 1,1,...` of about `bytes` bytes: two tokens per two bytes, the parser's worst case. */
const selectOnes = (bytes: number) =>
  `SELECT ${Array(Math.floor(bytes / 2))
    .fill('1')
    .join(',')}`;

describe('statement size bound', () => {
  it('refuses a 400 KB SELECT 1,1,... with STATEMENT_TOO_COMPLEX in both dialects', () => {
    const sql = selectOnes(400_000);
    expect(() => pg.analyze(sql)).toThrow(expect.objectContaining({ code: 'STATEMENT_TOO_COMPLEX' }));
    expect(() => my.analyze(sql)).toThrow(expect.objectContaining({ code: 'STATEMENT_TOO_COMPLEX' }));
  });

  it('still analyzes a statement under the bound, and a long text of few tokens', () => {
    expect(pg.analyze(selectOnes(8_000)).facts.statements[0]!.kind).toBe('read');
    expect(my.analyze(selectOnes(8_000)).facts.statements[0]!.kind).toBe('read');
    const doc = `INSERT INTO posts (id, user_id, body) VALUES (1, 2, '${'x'.repeat(1_000_000)}')`;
    expect(pg.analyze(doc).facts.statements[0]!.kind).toBe('write');
    expect(my.analyze(doc).facts.statements[0]!.kind).toBe('write');
  });

  it('the error tells the user the limit and what to do', () => {
    try {
      pg.analyze(selectOnes(400_000));
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toContain('limits.maxStatementTokens');
      expect((err as { sqlstate: string }).sqlstate).toBe('54001');
    }
  });
});

describe('nested SHARDGATE EXPLAIN', () => {
  for (const sql of [
    'SHARDGATE EXPLAIN SHARDGATE EXPLAIN SELECT 1',
    'shardgate explain /* c */ shardgate   explain shardgate explain select 1',
  ]) {
    it(`is refused: ${sql}`, () => {
      expect(() => pg.analyze(sql)).toThrow(expect.objectContaining({ code: 'FEATURE_NOT_SUPPORTED' }));
      expect(() => my.analyze(sql)).toThrow(expect.objectContaining({ code: 'FEATURE_NOT_SUPPORTED' }));
    });
  }

  it('one level still works', () => {
    expect(pg.analyze('SHARDGATE EXPLAIN SELECT 1').facts.statements[0]!.shardgate?.command).toBe('explain');
    expect(my.analyze('SHARDGATE EXPLAIN SELECT 1').facts.statements[0]!.shardgate?.command).toBe('explain');
  });
});
