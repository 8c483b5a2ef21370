// Runs a request on a server connection and collects its whole response, decoded only as far as
// a merge needs: row descriptions, data rows split into cells (kept as raw bytes, so binary
// results stay binary), command tags and errors. Used by multi-shard execution only; single-shard
// plans never decode rows.

import type { PgServerConnection } from '../backend/pg-server-connection.js';
import type { FieldDescription } from '../protocol/postgres/backend-messages.js';
import { wholeMessages } from '../protocol/postgres/whole-messages.js';
import type { RowBudget } from './merge-budget.js';

/** A RowDescription field, as the PostgreSQL codec decodes it. */
export type FieldInfo = FieldDescription;

export interface CollectedResult {
  /** Raw ParameterDescription / RowDescription messages, in order (for Describe replies). */
  parameterDescription: Buffer | null;
  rowDescription: Buffer | null;
  fields: FieldInfo[] | null;
  rows: Array<Array<Buffer | null>>;
  /** With `wholeRows`: each DataRow message as it came, not split into cells (rows stays empty). */
  wholeRows: Buffer[];
  tags: string[];
  /** The first ErrorResponse, raw, and its SQLSTATE. */
  error: { raw: Buffer; code: string; message: string } | null;
  /** Notices and other asynchronous messages to pass on. */
  passthrough: Buffer[];
  /** COPY ... TO STDOUT: the CopyOutResponse and the CopyData messages, raw. */
  copyOutResponse: Buffer | null;
  copyData: Buffer[];
  status: number;
}

export function parseRowDescription(buf: Buffer, bodyStart: number): FieldInfo[] {
  const count = buf.readInt16BE(bodyStart);
  const fields: FieldInfo[] = [];
  let pos = bodyStart + 2;
  for (let i = 0; i < count; i++) {
    const nul = buf.indexOf(0, pos);
    const name = buf.toString('utf8', pos, nul);
    pos = nul + 1;
    fields.push({
      name,
      tableOid: buf.readInt32BE(pos),
      column: buf.readInt16BE(pos + 4),
      typeOid: buf.readInt32BE(pos + 6),
      typeSize: buf.readInt16BE(pos + 10),
      typeModifier: buf.readInt32BE(pos + 12),
      format: buf.readInt16BE(pos + 16),
    });
    pos += 18;
  }
  return fields;
}

function parseDataRow(buf: Buffer, bodyStart: number): Array<Buffer | null> {
  const count = buf.readInt16BE(bodyStart);
  const cells: Array<Buffer | null> = new Array(count);
  let pos = bodyStart + 2;
  for (let i = 0; i < count; i++) {
    const len = buf.readInt32BE(pos);
    pos += 4;
    if (len < 0) {
      cells[i] = null;
    } else {
      cells[i] = buf.subarray(pos, pos + len);
      pos += len;
    }
  }
  return cells;
}

function parseErrorFields(buf: Buffer, bodyStart: number, end: number): { code: string; message: string } {
  let code = 'XX000';
  let message = '';
  let pos = bodyStart;
  while (pos < end && buf[pos] !== 0) {
    const field = buf[pos]!;
    const nul = buf.indexOf(0, pos + 1);
    if (nul < 0 || nul > end) break;
    const value = buf.toString('utf8', pos + 1, nul);
    if (field === 0x43) code = value;
    else if (field === 0x4d) message = value;
    pos = nul + 1;
  }
  return { code, message };
}

/**
 * Sends `request` (one or more frontend messages ending in Sync or a simple Query) and resolves
 * with everything up to ReadyForQuery. `budget` bounds memory (rows and bytes, shared by every
 * shard of the statement); past it, rows are dropped and the caller fails the statement cleanly.
 * `wholeRows` keeps DataRow messages whole (see pg-forwarded-rows.ts) instead of splitting cells.
 */
export function collect(
  conn: PgServerConnection,
  request: Buffer,
  budget: RowBudget,
  wholeRows = false,
): Promise<CollectedResult> {
  return new Promise<CollectedResult>((resolve, reject) => {
    const result: CollectedResult = {
      parameterDescription: null,
      rowDescription: null,
      fields: null,
      rows: [],
      wholeRows: [],
      tags: [],
      error: null,
      passthrough: [],
      copyOutResponse: null,
      copyData: [],
      status: 0x49,
    };
    conn.onClose = (err) => reject(err ?? new Error('server closed the connection'));
    conn.onData = wholeMessages((type, buf, pos, end) => {
      const body = pos + 5;
      const len = end - pos - 1;
      switch (type) {
        case 0x44: // DataRow
          if (budget.take(len - 6, buf.readInt16BE(body))) {
            if (wholeRows) result.wholeRows.push(buf.subarray(pos, end));
            else result.rows.push(parseDataRow(buf, body));
          }
          break;
        case 0x48: // CopyOutResponse
          result.copyOutResponse = Buffer.from(buf.subarray(pos, end));
          break;
        case 0x64: // CopyData
          if (budget.take(len, 1)) result.copyData.push(Buffer.from(buf.subarray(pos, end)));
          break;
        case 0x54: // RowDescription
          result.rowDescription = Buffer.from(buf.subarray(pos, end));
          result.fields = parseRowDescription(buf, body);
          break;
        case 0x74: // ParameterDescription
          result.parameterDescription = Buffer.from(buf.subarray(pos, end));
          break;
        case 0x43: // CommandComplete
          result.tags.push(buf.toString('utf8', body, end - 1));
          break;
        case 0x45: // ErrorResponse
          if (!result.error)
            result.error = {
              raw: Buffer.from(buf.subarray(pos, end)),
              ...parseErrorFields(buf, body, end),
            };
          break;
        case 0x4e: // Notice
        case 0x41: // Notification
          result.passthrough.push(Buffer.from(buf.subarray(pos, end)));
          break;
        case 0x5a: // ReadyForQuery
          result.status = buf[body]!;
          conn.txStatus = String.fromCharCode(result.status);
          conn.onData = null;
          conn.onClose = null;
          resolve(result);
          return true;
        default:
          break;
      }
      return false;
    });
    conn.write(request);
  });
}
