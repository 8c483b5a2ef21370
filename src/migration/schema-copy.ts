// The source's schema of the moved tables on each target: one `pg_dump --schema-only` of the
// tables still missing on a target (one dump, so foreign keys between moved tables come after
// their tables), applied in one transaction. Run again, it finds the tables and only checks that
// their columns and primary key are the source's; a table that exists with another shape stops
// the split with a message naming the difference.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import { libpqTls } from '../backend/backend-tls.js';
import { findPgBinaries, pgToolPath } from '../local/pg-binaries.js';
import { backendPassword, backendTlsFor } from './credentials.js';
import { withClient } from './pg-connect.js';
import { loadTableMeta, type TableMeta } from './table-meta.js';
import type { ServerAddress } from './types.js';

const execFileAsync = promisify(execFile);

export interface SchemaCopyResult {
  /** Per target name: tables created now. */
  created: Record<string, string[]>;
  /** Per target name: tables that were there already with the source's shape. */
  existing: Record<string, string[]>;
}

/** pg_dump --schema-only of the given tables; psql meta-commands (\restrict ...) are removed. */
export async function dumpTableSchema(server: ServerAddress, metas: readonly TableMeta[]): Promise<string> {
  const pgDump = await pgToolPath('pg_dump');
  let extraEnv: Record<string, string> = {};
  try {
    extraEnv = findPgBinaries().env;
  } catch {
    // pg_dump from PATH needs nothing extra
  }
  const tls = libpqTls(backendTlsFor(server.name), server.host);
  const args = [
    '--schema-only',
    '--no-owner',
    // Grants come along: users reach the servers as their own roles (users[].backend), and a
    // moved table must serve them as before. A role missing on the target stops the split there.
    '--no-publications',
    '--no-subscriptions',
    '--no-security-labels',
    '-h',
    tls.host,
    '-p',
    String(server.port),
    '-U',
    server.user,
    '-d',
    server.database,
  ];
  for (const m of metas) args.push('-t', m.qualified);
  const password = backendPassword(server.user);
  try {
    const { stdout } = await execFileAsync(pgDump, args, {
      env: { ...process.env, ...extraEnv, ...tls.env, ...(password ? { PGPASSWORD: password } : {}) },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 120_000,
    });
    return stdout
      .split('\n')
      .filter((line) => !line.startsWith('\\'))
      .join('\n');
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `pg_dump of ${metas.map((m) => m.table).join(', ')} failed: ${e.stderr?.trim() || e.message}`,
    );
  }
}

function shape(meta: TableMeta): string {
  const cols = meta.columns.map((c) => `${c.name} ${c.type}`).join(', ');
  return `(${cols}) primary key (${meta.primaryKey.map((c) => c.name).join(', ')})`;
}

async function existingMeta(client: pg.Client, meta: TableMeta): Promise<TableMeta | null> {
  const r = await client.query<{ present: string }>(
    'SELECT (to_regclass($1::text) IS NOT NULL)::text AS present',
    [meta.qualified],
  );
  if (r.rows[0]?.present !== 'true') return null;
  return loadTableMeta(client, meta.qualified);
}

export async function copySchema(options: {
  source: ServerAddress;
  targets: ServerAddress[];
  tables: string[];
}): Promise<SchemaCopyResult> {
  const metas = await withClient(options.source, 'migration-schema', async (c) => {
    const out: TableMeta[] = [];
    for (const t of options.tables) out.push(await loadTableMeta(c, t));
    return out;
  });
  const result: SchemaCopyResult = { created: {}, existing: {} };
  const dumps = new Map<string, Promise<string>>();
  const dumpOf = (tables: TableMeta[]) => {
    const key = tables.map((m) => m.qualified).join(',');
    if (!dumps.has(key)) dumps.set(key, dumpTableSchema(options.source, tables));
    return dumps.get(key)!;
  };
  for (const target of options.targets) {
    await withClient(target, 'migration-schema', async (c) => {
      const missing: TableMeta[] = [];
      const present: string[] = [];
      for (const meta of metas) {
        const found = await existingMeta(c, meta);
        if (!found) {
          missing.push(meta);
          continue;
        }
        if (shape(found) !== shape(meta))
          throw new Error(
            `table ${meta.table} already exists on target ${target.name} with another shape: ${shape(found)} there, ${shape(meta)} on the source; drop it on the target or make it match`,
          );
        present.push(meta.table);
      }
      if (missing.length) {
        const ddl = await dumpOf(missing);
        const schemas = [...new Set(missing.map((m) => m.schema))];
        await c.query('BEGIN');
        try {
          for (const s of schemas) await c.query(`CREATE SCHEMA IF NOT EXISTS "${s.replace(/"/g, '""')}"`);
          await c.query(ddl);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw new Error(`applying the schema on target ${target.name} failed: ${(err as Error).message}`);
        }
      }
      result.created[target.name] = missing.map((m) => m.table);
      result.existing[target.name] = present;
    });
  }
  return result;
}
