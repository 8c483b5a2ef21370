// The source side of change capture: a publication for the moved tables, a logical slot created
// over a replication connection with an exported snapshot (the copy reads that snapshot, so every
// change the slot streams is newer than the copied rows), and dropping both afterwards. The
// exported snapshot lives exactly as long as the replication connection that created it runs no
// other command, so the connection is held open until release().
import pg from 'pg';
import { requireLsn } from './lsn.js';
import { clientConfig, withClient } from './pg-connect.js';
import { sleep } from './retry.js';
import { loadTableMeta, quoteIdent } from './table-meta.js';
import type { ServerAddress } from './types.js';

const NAME_RE = /^[a-z0-9_]{1,63}$/;

/** Slot and publication names: what PostgreSQL accepts for a slot (lower case, digits, _). */
export function checkReplicationName(name: string, what: 'slot' | 'publication'): string {
  if (!NAME_RE.test(name))
    throw new Error(`invalid ${what} name "${name}": use 1-63 lower-case letters, digits or underscores`);
  return name;
}

export interface ExportedSnapshot {
  slot: string;
  /** The slot's consistent point: the snapshot holds every transaction committed before it. */
  consistentLsn: string;
  /** For SET TRANSACTION SNAPSHOT, valid until release(). */
  snapshotName: string;
  temporary: boolean;
  /** Ends the replication connection: the snapshot (and a temporary slot) goes with it. */
  release(): Promise<void>;
}

/**
 * CREATE_REPLICATION_SLOT ... LOGICAL pgoutput EXPORT_SNAPSHOT. A temporary slot (for the copy
 * of a resumed segment) is dropped by PostgreSQL when released; a permanent one stays.
 * PostgreSQL waits for transactions running at this moment to end before it answers.
 */
export async function createSlotWithSnapshot(
  server: ServerAddress,
  slot: string,
  options: { temporary?: boolean } = {},
): Promise<ExportedSnapshot> {
  checkReplicationName(slot, 'slot');
  const client = new pg.Client({
    ...clientConfig(server, 'migration-snapshot'),
    replication: 'database',
  } as pg.ClientConfig);
  client.on('error', () => undefined);
  await client.connect();
  try {
    const temporary = options.temporary === true;
    const r = await client.query<{ slot_name: string; consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${slot} ${temporary ? 'TEMPORARY ' : ''}LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    const row = r.rows[0];
    if (!row?.snapshot_name) throw new Error(`CREATE_REPLICATION_SLOT ${slot} returned no snapshot`);
    requireLsn(row.consistent_point);
    let released = false;
    return {
      slot: row.slot_name,
      consistentLsn: row.consistent_point,
      snapshotName: row.snapshot_name,
      temporary,
      release: async () => {
        if (released) return;
        released = true;
        await client.end().catch(() => undefined);
      },
    };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

/** Creates the publication for exactly these tables, or sets its table list if it exists. */
export async function ensurePublication(
  server: ServerAddress,
  name: string,
  tables: string[],
): Promise<void> {
  checkReplicationName(name, 'publication');
  await withClient(server, 'migration-publication', async (c) => {
    const qualified: string[] = [];
    for (const t of tables) qualified.push((await loadTableMeta(c, t)).qualified);
    const exists = await c.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [name]);
    const list = qualified.join(', ');
    await c.query(
      exists.rowCount
        ? `ALTER PUBLICATION ${quoteIdent(name)} SET TABLE ${list}`
        : `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list}`,
    );
  });
}

export async function dropPublication(server: ServerAddress, name: string): Promise<void> {
  checkReplicationName(name, 'publication');
  await withClient(server, 'migration-cleanup', (c) =>
    c.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`),
  );
}

/** Drops a slot if it exists; a consumer still attached is disconnected first. */
export async function dropSlot(server: ServerAddress, slot: string, timeoutMs = 10_000): Promise<void> {
  checkReplicationName(slot, 'slot');
  await withClient(server, 'migration-cleanup', async (c) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await c.query<{ active_pid: string | null }>(
        'SELECT active_pid::text AS active_pid FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      const row = r.rows[0];
      if (!row) return;
      try {
        if (row.active_pid) await c.query('SELECT pg_terminate_backend($1::int)', [row.active_pid]);
        else {
          await c.query('SELECT pg_drop_replication_slot($1)', [slot]);
          return;
        }
      } catch (err) {
        // 55006: the consumer came back between our look and the drop; try again.
        if ((err as { code?: string }).code !== '55006' || Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error(`slot ${slot} is still in use after ${timeoutMs} ms`);
      await sleep(100);
    }
  });
}

export async function slotExists(server: ServerAddress, slot: string): Promise<boolean> {
  return withClient(server, 'migration-status', async (c) => {
    const r = await c.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    return (r.rowCount ?? 0) > 0;
  });
}

export async function currentWalLsn(server: ServerAddress | pg.Client): Promise<string> {
  const read = async (c: pg.Client) =>
    (await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
  return server instanceof pg.Client ? read(server) : withClient(server, 'migration-status', read);
}

/**
 * WAL the slot retains that its consumer has not confirmed: the capture lag while the copy runs
 * and the applier does not stream yet.
 */
export async function slotLagBytes(server: ServerAddress, slot: string): Promise<number | null> {
  return withClient(server, 'migration-status', async (c) => {
    const r = await c.query<{ bytes: string | null }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8::text AS bytes
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    const bytes = r.rows[0]?.bytes;
    return bytes === undefined || bytes === null ? null : Number(bytes);
  });
}
