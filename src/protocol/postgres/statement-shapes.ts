// The result shape of prepared statements. A driver that described a named statement once
// (postgres.js) decodes every later execution's rows with the columns it was told then. On a
// direct connection the server keeps that promise: a statement whose result type changed after
// DDL fails with 0A000 "cached plan must not change result type" (and the driver re-prepares).
// When shardgate prepares a client's statement again on another server connection, the server
// plans it against the current schema and cannot know what the client was told; so shardgate
// remembers the shape the client saw and compares before the statement runs there.
import { serialize } from 'pg-protocol';
import type { PgServerConnection } from '../../backend/pg-server-connection.js';
import { encodeErrorResponse } from './backend-messages.js';
import type { PreparedStatement } from './session-state.js';
import { FE, type Unit } from './units.js';
import { wholeMessages } from './whole-messages.js';

const ROW_DESCRIPTION = 0x54; // 'T'
const NO_DATA = 0x6e; // 'n'
const ERROR = 0x45; // 'E'
const READY = 0x5a; // 'Z'

/**
 * A statement's result columns as the server's plan cache compares them (name, type, typmod),
 * from a RowDescription or NoData message: table oids and column numbers may change without it
 * (a table dropped and created again with the same columns).
 */
export function readShape(type: number, buf: Buffer, bodyStart: number, end: number): string {
  if (type !== ROW_DESCRIPTION) return 'n';
  let pos = bodyStart + 2;
  const parts = [`T${buf.readInt16BE(bodyStart)}`];
  for (let i = buf.readInt16BE(bodyStart); i > 0; i--) {
    const nul = buf.indexOf(0, pos);
    if (nul < 0 || nul + 19 > end) return `malformed ${parts.length}`;
    const name = buf.toString('utf8', pos, nul);
    // table oid (4), column number (2), then type oid (4), type size (2), type modifier (4), format (2)
    parts.push(`${name}:${buf.readUInt32BE(nul + 7)}:${buf.readInt32BE(nul + 13)}`);
    pos = nul + 19;
  }
  return parts.join('/');
}

const byConnection = new WeakMap<PgServerConnection, Map<string, string>>();

/** The shapes of the server statements a connection holds, where shardgate has seen them described. */
export function serverShapes(conn: PgServerConnection): Map<string, string> {
  let map = byConnection.get(conn);
  if (!map) {
    map = new Map();
    byConnection.set(conn, map);
  }
  return map;
}

/** The server's own error for a statement whose result type changed (drivers re-prepare on its routine). */
export function cachedPlanChangedError(): Buffer {
  return encodeErrorResponse({
    severity: 'ERROR',
    code: '0A000',
    message: 'cached plan must not change result type',
    file: 'plancache.c',
    routine: 'RevalidateCachedQuery',
  });
}

/**
 * Client statements a unit binds without describing them first in the same unit, whose shape the
 * client was told: the ones to check before the unit runs on a connection.
 */
export function statementsToCheck(unit: Unit, prepared: Map<string, PreparedStatement>): PreparedStatement[] {
  if (unit.simple) return [];
  let found: PreparedStatement[] | null = null;
  let refreshed: Set<string> | null = null;
  for (const frame of unit.frames) {
    const t = frame.type;
    if (t !== FE.Bind && t !== FE.Parse && t !== FE.Describe) continue;
    const bytes = frame.bytes;
    // Bind: portal name first, then the statement; Parse and Describe 'S': the statement.
    let pos = 5;
    if (t === FE.Bind) pos = bytes.indexOf(0, pos) + 1;
    else if (t === FE.Describe) {
      if (bytes[5] !== 0x53) continue;
      pos = 6;
    }
    const nul = bytes.indexOf(0, pos);
    if (nul <= pos) continue; // unnamed
    const name = bytes.toString('utf8', pos, nul);
    if (t !== FE.Bind) {
      if (!refreshed) refreshed = new Set();
      refreshed.add(name);
      continue;
    }
    const stmt = prepared.get(name);
    if (!stmt?.shape || refreshed?.has(name) || found?.includes(stmt)) continue;
    if (!found) found = [];
    found.push(stmt);
  }
  return found ?? [];
}

export type DescribeOutcome = { shape: string } | { error: Buffer };

/**
 * Prepares `name` on an idle connection and reads its result shape (Parse, Describe, Sync; one
 * round trip, only when shardgate prepares a described statement again). `close`: a statement
 * the connection's LRU gives up in the same trip. Rejects when the connection is lost.
 */
export function describeOnServer(
  conn: PgServerConnection,
  stmt: { serverName: string; sql: string; paramTypes: number[] },
  close: string | null,
  timeoutMs = 10_000,
): Promise<DescribeOutcome> {
  return new Promise<DescribeOutcome>((resolve, reject) => {
    let outcome: DescribeOutcome | null = null;
    const finish = (err: Error | null) => {
      clearTimeout(timer);
      conn.onData = null;
      conn.onClose = null;
      if (err || !outcome) reject(err ?? new Error('no description'));
      else resolve(outcome);
    };
    const timer = setTimeout(() => {
      conn.destroy();
      finish(new Error(`describe timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    conn.onClose = (err) => finish(err ?? new Error('server closed the connection'));
    conn.onData = wholeMessages((type, buf, pos, end) => {
      if (type === ERROR && !outcome) outcome = { error: Buffer.from(buf.subarray(pos, end)) };
      else if ((type === ROW_DESCRIPTION || type === NO_DATA) && !outcome)
        outcome = { shape: readShape(type, buf, pos + 5, end) };
      else if (type === READY) {
        conn.txStatus = String.fromCharCode(buf[pos + 5]!);
        finish(null);
        return true;
      }
      return false;
    });
    const out: Buffer[] = [];
    if (close !== null) out.push(serialize.close({ type: 'S', name: close }));
    out.push(
      serialize.parse({ name: stmt.serverName, text: stmt.sql, types: stmt.paramTypes }),
      serialize.describe({ type: 'S', name: stmt.serverName }),
      serialize.sync(),
    );
    conn.write(Buffer.concat(out));
  });
}
