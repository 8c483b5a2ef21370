// The texts of a PostgreSQL cross-shard join: the fetch of the detached occurrence and the
// statement with its rows inlined, typed as the fetch described them (pure, no database).

import { loadModule } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ColumnInfo, Row } from '../../src/executor/rows.js';
import { pgBroadcastSql } from '../../src/sql/pg-broadcast-sql.js';

beforeAll(async () => {
  await loadModule();
});

const row = (...cells: Array<string | null>): Row => cells.map((c) => (c === null ? null : Buffer.from(c)));
const col = (name: string, typeOid: number, typeModifier = -1): ColumnInfo => ({
  name,
  typeOid,
  format: 'text',
  typeModifier,
});

describe('pgBroadcastSql', () => {
  it('a joined table becomes typed VALUES under its alias', () => {
    const sql = 'SELECT u.name, p.title FROM users u JOIN posts p ON p.id = u.id ORDER BY 1';
    const t = pgBroadcastSql(sql, 1);
    expect(t.fetchSql).toBe('SELECT * FROM posts p');
    const out = t.residualSql([col('id', 20), col('title', 1043, 44)], [row('1', "it's"), row('2', null)]);
    expect(out).toBe(
      `SELECT u.name, p.title FROM users u JOIN (VALUES ('1'::bigint, 'it''s'::character varying(40)), ('2'::bigint, NULL::character varying(40))) AS "p"("id", "title") ON p.id = u.id ORDER BY 1`,
    );
  });

  it('no rows: an empty typed subquery with the same columns', () => {
    const t = pgBroadcastSql('SELECT count(*) FROM users u, posts WHERE posts.id = u.id', 1);
    expect(t.fetchSql).toBe('SELECT * FROM posts');
    expect(t.residualSql([col('id', 20), col('n', 1700, (10 << 16) + 2 + 4)], [])).toBe(
      'SELECT count(*) FROM users u, (SELECT NULL::bigint, NULL::numeric(10,2) WHERE false) AS "posts"("id", "n") WHERE posts.id = u.id',
    );
  });

  it('an IN subquery is fetched as written and becomes a list (an empty one keeps NOT IN true)', () => {
    const sql =
      "SELECT id FROM users WHERE name <> 'a(b' AND id NOT IN (SELECT post_id FROM likes WHERE user_id > 3)";
    const t = pgBroadcastSql(sql, 1);
    expect(t.fetchSql).toBe('SELECT post_id FROM likes WHERE user_id > 3');
    expect(t.residualSql([col('post_id', 20)], [row('5'), row(null)])).toBe(
      "SELECT id FROM users WHERE name <> 'a(b' AND id NOT IN ('5'::bigint, NULL::bigint)",
    );
    expect(t.residualSql([col('post_id', 20)], [])).toBe(
      "SELECT id FROM users WHERE name <> 'a(b' AND id NOT IN (SELECT NULL::bigint WHERE false)",
    );
  });

  it('offsets after multi-byte text still find the table', () => {
    const t = pgBroadcastSql("SELECT 'é' AS e, count(*) FROM users u JOIN posts p ON p.id = u.id", 1);
    expect(t.fetchSql).toBe('SELECT * FROM posts p');
  });

  it('backslashes are quoted so that any standard_conforming_strings reads them alike', () => {
    const t = pgBroadcastSql('SELECT count(*) FROM users WHERE name IN (SELECT title FROM posts)', 1);
    expect(t.residualSql([col('title', 25)], [row('a\\b')])).toBe(
      "SELECT count(*) FROM users WHERE name IN (E'a\\\\b'::text)",
    );
  });

  it('a type it cannot write back is refused with 0A000', () => {
    const t = pgBroadcastSql('SELECT count(*) FROM users u JOIN posts p ON p.id = u.id', 1);
    expect(() => t.residualSql([col('g', 600)], [row('(1,2)')])).toThrow(/type oid 600/);
  });
});
