// A ResponseHandler that keeps a whole response in memory, decoded: column definitions, rows as
// text-protocol cells (binary rows converted), OK packets with their session changes, the ERR.
// Used for shardgate's own queries and for multi-shard results; single-target plans never
// decode rows.
import type { RowBudget } from '../../executor/merge-budget.js';
import { type ColumnDefinition, decodeColumnDefinition } from './columns.js';
import { CAP } from './constants.js';
import type { LogicalPacket } from './packet-framer.js';
import type { PacketRole, ResponseHandler } from './response-scanner.js';
import { decodeErr, decodeOk, type ErrPacket, endStatus, type OkPacket } from './responses.js';
import { type Cell, decodeBinaryRow, decodeTextRow } from './rows.js';
import { decodePrepareOk, type PrepareOk } from './statements.js';

export interface CollectedResultSet {
  /** Null for an OK (a statement without rows). */
  columns: ColumnDefinition[] | null;
  rows: Cell[][];
  /** The OK of a statement without rows, or the OK that ended the rows (DEPRECATE_EOF). */
  ok: OkPacket | null;
  status: number;
  warnings: number;
}

export interface CollectedResponse {
  results: CollectedResultSet[];
  error: ErrPacket | null;
  /** COM_STMT_PREPARE: the header, parameter and column definitions. */
  prepare: { ok: PrepareOk; params: ColumnDefinition[]; columns: ColumnDefinition[] } | null;
  /** Status flags of the last packet. */
  status: number;
}

export interface CollectorOptions {
  capabilities: number;
  /** Column definitions carry MariaDB's extended metadata block. */
  extendedMetadata?: boolean;
  /** Rows arrive in the binary protocol (COM_STMT_EXECUTE). */
  binary: boolean;
  /** Rows kept in memory; past it `onOverflow` is called once and rows are dropped. */
  maxRows: number;
  onOverflow?: () => void;
  /** Charged per row besides maxRows (a scatter's budget shared by its shards); false drops it. */
  budget?: RowBudget;
  onDone(response: CollectedResponse): void;
}

export class ResultCollector implements ResponseHandler {
  private readonly response: CollectedResponse = { results: [], error: null, prepare: null, status: 0 };
  private current: CollectedResultSet | null = null;
  private rowCount = 0;
  private overflowed = false;

  constructor(private readonly options: CollectorOptions) {}

  onPacket(packet: LogicalPacket, role: PacketRole, final: boolean): void {
    const p = packet.payload;
    const caps = this.options.capabilities;
    switch (role) {
      case 'ok': {
        const ok = decodeOk(p, caps);
        this.response.results.push({ columns: null, rows: [], ok, status: ok.status, warnings: ok.warnings });
        this.response.status = ok.status;
        break;
      }
      case 'err':
        this.response.error = decodeErr(p);
        break;
      case 'column-count':
        this.current = { columns: [], rows: [], ok: null, status: 0, warnings: 0 };
        this.response.results.push(this.current);
        break;
      case 'column': {
        const c = decodeColumnDefinition(p, this.options.extendedMetadata);
        if (this.response.prepare) this.response.prepare.columns.push(c);
        else this.current?.columns?.push(c);
        break;
      }
      case 'param':
        this.response.prepare?.params.push(decodeColumnDefinition(p, this.options.extendedMetadata));
        break;
      case 'prepare-ok':
        this.response.prepare = { ok: decodePrepareOk(p), params: [], columns: [] };
        break;
      case 'row': {
        const set = this.current;
        if (!set?.columns) break;
        if (
          this.rowCount >= this.options.maxRows ||
          (this.options.budget && !this.options.budget.take(p.length, set.columns.length))
        ) {
          if (!this.overflowed) {
            this.overflowed = true;
            this.options.onOverflow?.();
          }
          break;
        }
        this.rowCount++;
        set.rows.push(
          this.options.binary ? decodeBinaryRow(p, set.columns) : decodeTextRow(p, set.columns.length),
        );
        break;
      }
      case 'rows-end': {
        const end = endStatus(p, caps);
        if (this.current) {
          this.current.status = end.status;
          this.current.warnings = end.warnings;
          if (caps & CAP.DEPRECATE_EOF) this.current.ok = decodeOk(p, caps);
        }
        this.response.status = end.status;
        this.current = null;
        break;
      }
      default:
        break;
    }
    if (final) this.options.onDone(this.response);
  }
}

/** Text of the first column of the first row of the first result set, or null. */
export function firstValue(r: CollectedResponse): string | null {
  const cell = r.results[0]?.rows[0]?.[0];
  return cell === undefined || cell === null ? null : cell.toString('utf8');
}
