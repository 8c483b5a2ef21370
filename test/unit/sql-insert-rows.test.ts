import { loadModule } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { inlineInsertRows } from '../../src/sql/insert-rows.js';

beforeAll(async () => {
  await loadModule();
});

describe('inlineInsertRows', () => {
  it('keeps only the chosen rows', () => {
    const sql = "INSERT INTO posts (id, user_id, title) VALUES (1, 10, 'a'), (2, 20, 'b (x)'), (3, 30, 'c')";
    expect(inlineInsertRows(sql, [0, 2], [])).toBe(
      "INSERT INTO posts (id, user_id, title) VALUES (1, 10, 'a'), (3, 30, 'c')",
    );
    expect(inlineInsertRows(sql, [1], [])).toBe(
      "INSERT INTO posts (id, user_id, title) VALUES (2, 20, 'b (x)')",
    );
  });

  it('inlines parameters as literals everywhere, leaving strings and comments alone', () => {
    const sql = "INSERT INTO t (a, b) VALUES ($1, '$2'), ($2, now()) /* $1 */ RETURNING a, $3::text";
    expect(inlineInsertRows(sql, [1], ['1', "o'k", null])).toBe(
      "INSERT INTO t (a, b) VALUES ('o''k', now()) /* $1 */ RETURNING a, NULL::text",
    );
  });

  it('handles nested parentheses and functions in rows', () => {
    const sql = 'INSERT INTO t VALUES ((1 + 2) * 3, coalesce(NULL, (4))), (5, 6) ON CONFLICT DO NOTHING';
    expect(inlineInsertRows(sql, [0], [])).toBe(
      'INSERT INTO t VALUES ((1 + 2) * 3, coalesce(NULL, (4))) ON CONFLICT DO NOTHING',
    );
  });

  it('refuses INSERT ... SELECT', () => {
    expect(() => inlineInsertRows('INSERT INTO t SELECT 1', [0], [])).toThrow(/VALUES/);
  });
});
