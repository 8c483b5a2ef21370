// The real collation of table columns, for merging text across shards. MariaDB labels every text
// result column with the CONNECTION's collation (character_set_results / SET NAMES ... COLLATE),
// not the column's own, so the label cannot say how the shards ordered or grouped a column. The
// merger asks here by the column's schema / original table / original name instead; a table is
// looked up once (information_schema, on a participating shard: all shards share the schema).
import type { MysqlServerConnection } from '../../backend/mysql-server-connection.js';
import type { ColumnDefinition } from './columns.js';

const MAX_TABLES = 1_000;
/**
 * DDL routed through shardgate clears the whole cache (ServerInfo.forgetStatements); the TTL is
 * the fallback for DDL done on the servers directly, which shardgate cannot see.
 */
const TTL_MS = 60_000;

interface Entry {
  at: number;
  /** Lower-cased column name -> collation id (text columns only). */
  columns: Map<string, number>;
}

function key(schema: string, table: string): string {
  return `${schema}\u0000${table}`;
}

/** A MySQL string literal of any text, as a hex literal (no quoting or escaping to get wrong). */
function hexText(s: string): string {
  return `CONVERT(X'${Buffer.from(s, 'utf8').toString('hex')}' USING utf8mb4)`;
}

export class ColumnCollations {
  private readonly tables = new Map<string, Entry>();

  /** The column's real collation id, or undefined when unknown (an expression, a table not loaded). */
  collationOf(c: ColumnDefinition, now = Date.now()): number | undefined {
    if (!c.schema || !c.orgTable || !c.orgName) return undefined;
    const e = this.fresh(key(c.schema, c.orgTable), now);
    return e?.columns.get(c.orgName.toLowerCase());
  }

  /** Loads the tables behind `columns` not known yet, on `conn`; a failed lookup leaves them unknown. */
  async load(conn: MysqlServerConnection, columns: ColumnDefinition[], now = Date.now()): Promise<void> {
    const wanted = new Map<string, [string, string]>();
    for (const c of columns) {
      if (!c.schema || !c.orgTable || !c.orgName) continue;
      const k = key(c.schema, c.orgTable);
      if (!this.fresh(k, now)) wanted.set(k, [c.schema, c.orgTable]);
    }
    for (const [k, [schema, table]] of wanted) {
      const r = await conn.query(
        'SELECT c.COLUMN_NAME, k.ID FROM information_schema.COLUMNS c JOIN information_schema.COLLATIONS k ' +
          `ON k.COLLATION_NAME = c.COLLATION_NAME WHERE c.TABLE_SCHEMA = ${hexText(schema)} ` +
          `AND c.TABLE_NAME = ${hexText(table)}`,
      );
      const result = r.results[0];
      if (r.error || !result?.rows) continue;
      const map = new Map<string, number>();
      for (const row of result.rows) {
        const id = Number(row[1]?.toString());
        if (row[0] && Number.isInteger(id)) map.set(row[0].toString('utf8').toLowerCase(), id);
      }
      if (this.tables.size >= MAX_TABLES) this.tables.delete(this.tables.keys().next().value as string);
      this.tables.set(k, { at: now, columns: map });
    }
  }

  /** Schema changed through the proxy. */
  clear(): void {
    this.tables.clear();
  }

  private fresh(k: string, now: number): Entry | undefined {
    const e = this.tables.get(k);
    if (e && now - e.at > TTL_MS) {
      this.tables.delete(k);
      return undefined;
    }
    return e;
  }
}
