// Builds a reply shardgate sends itself: packets framed with consecutive sequence ids after the
// client's command, result sets in the client's flavour (EOF packets or CLIENT_DEPRECATE_EOF),
// written in one piece.

import type { ShardgateError } from '../../errors.js';
import { type ColumnDefinition, encodeColumnDefinition } from './columns.js';
import { CAP } from './constants.js';
import { framePayload, PacketWriter, packetCount } from './packet-io.js';
import { encodeOk, encodeResultEnd, encodeShardgateError } from './responses.js';
import { type Cell, encodeBinaryRow, encodeTextRow } from './rows.js';

export class ReplyWriter {
  private readonly parts: Buffer[] = [];

  constructor(
    private seq: number,
    private readonly capabilities: number,
    /** The client negotiated MariaDB's extended column metadata. */
    private readonly extendedMetadata = false,
  ) {}

  get nextSeq(): number {
    return this.seq;
  }

  packet(payload: Buffer): this {
    this.parts.push(framePayload(payload, this.seq));
    this.seq = (this.seq + packetCount(payload.length)) & 0xff;
    return this;
  }

  ok(
    status: number,
    fields: { affectedRows?: bigint; insertId?: bigint; warnings?: number; info?: string } = {},
  ): this {
    return this.packet(encodeOk({ status, ...fields }, this.capabilities));
  }

  error(err: ShardgateError): this {
    return this.packet(encodeShardgateError(err));
  }

  /** A whole result set: column count, definitions, [EOF], rows, end. */
  resultSet(
    columns: readonly ColumnDefinition[],
    rows: ReadonlyArray<readonly Cell[]>,
    status: number,
    options: { binary?: boolean; warnings?: number } = {},
  ): this {
    this.packet(new PacketWriter(4).lenencInt(columns.length).payload());
    for (const c of columns) this.packet(encodeColumnDefinition(c, this.extendedMetadata));
    if (!(this.capabilities & CAP.DEPRECATE_EOF)) this.packet(encodeResultEnd(status, 0, 0));
    for (const row of rows) this.packet(options.binary ? encodeBinaryRow(row, columns) : encodeTextRow(row));
    return this.packet(encodeResultEnd(status, options.warnings ?? 0, this.capabilities));
  }

  /** Column definitions followed by an EOF unless the client deprecated it (prepare replies). */
  definitions(columns: readonly ColumnDefinition[], status: number): this {
    if (columns.length === 0) return this;
    for (const c of columns) this.packet(encodeColumnDefinition(c, this.extendedMetadata));
    if (!(this.capabilities & CAP.DEPRECATE_EOF)) this.packet(encodeResultEnd(status, 0, 0));
    return this;
  }

  bytes(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
  }
}
