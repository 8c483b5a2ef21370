// What the MySQL front end learns once from the backends and shares between sessions: the
// server version it announces, collation ids (a client's handshake names its character set by
// id), databases known to exist, and prepared-statement metadata by SQL text (so a client's
// COM_STMT_PREPARE of a known statement is answered without a server round trip).
import type { MysqlTopology } from '../../backend/mysql-topology.js';
import { ColumnCollations } from './column-collations.js';
import type { ColumnDefinition } from './columns.js';

export interface StatementMetadata {
  paramCount: number;
  params: ColumnDefinition[];
  columns: ColumnDefinition[];
}

const METADATA_MAX = 5_000;
const FALLBACK_VERSION = '5.5.5-10.11.0-MariaDB-shardgate';

export class ServerInfo {
  version = FALLBACK_VERSION;
  /** Collation id -> [charset, collation]. */
  readonly collations = new Map<number, [string, string]>([
    [8, ['latin1', 'latin1_swedish_ci']],
    [33, ['utf8mb3', 'utf8mb3_general_ci']],
    [45, ['utf8mb4', 'utf8mb4_general_ci']],
    [46, ['utf8mb4', 'utf8mb4_bin']],
    [63, ['binary', 'binary']],
    [224, ['utf8mb4', 'utf8mb4_unicode_ci']],
  ]);
  readonly databases = new Set<string>();
  /** Real collations of table columns (result column labels carry the connection's). */
  readonly columnCollations = new ColumnCollations();
  private readonly metadata = new Map<string, StatementMetadata>();
  private loaded = false;

  /** Version and collations from the default primary (once; defaults if it cannot be reached). */
  async load(topology: MysqlTopology): Promise<void> {
    if (this.loaded) return;
    const pool = topology.defaultPrimary().pool;
    const conn = await pool.acquire(false);
    try {
      this.version = `${conn.serverVersion}-shardgate`;
      const r = await conn.query(
        'SELECT id, character_set_name, collation_name FROM information_schema.COLLATIONS',
      );
      for (const row of r.results[0]?.rows ?? []) {
        const id = Number(row[0]?.toString());
        if (Number.isInteger(id) && row[1] && row[2])
          this.collations.set(id, [row[1].toString(), row[2].toString()]);
      }
      this.loaded = true;
    } finally {
      pool.release(conn);
    }
  }

  /** Charset variables for a handshake collation id (unknown ids: the server default, utf8mb4). */
  charsetFor(collation: number): [string, string] {
    return this.collations.get(collation) ?? ['utf8mb4', 'utf8mb4_general_ci'];
  }

  statement(sql: string): StatementMetadata | undefined {
    const m = this.metadata.get(sql);
    if (m) {
      this.metadata.delete(sql);
      this.metadata.set(sql, m);
    }
    return m;
  }

  rememberStatement(sql: string, m: StatementMetadata): void {
    if (this.metadata.size >= METADATA_MAX) this.metadata.delete(this.metadata.keys().next().value as string);
    this.metadata.set(sql, m);
  }

  /** Schema changed through the proxy: statement metadata and column collations may be stale. */
  forgetStatements(): void {
    this.metadata.clear();
    this.columnCollations.clear();
  }
}
