// Result rows: text rows (one length-encoded string or NULL marker per column) and binary rows
// (0x00, a NULL bitmap offset by two bits, then each non-NULL value in its type's encoding).
// Cells are kept as the text protocol's bytes in both cases, so merges compare one form.
import { readBinaryValue, type ValueType, writeBinaryValue } from './binary-values.js';
import type { ColumnDefinition } from './columns.js';
import { COLUMN_FLAG } from './constants.js';
import { malformed, PacketReader, PacketWriter } from './packet-io.js';

export type Cell = Buffer | null;

export function decodeTextRow(payload: Buffer, columnCount: number): Cell[] {
  const r = new PacketReader(payload);
  const cells: Cell[] = new Array(columnCount);
  for (let i = 0; i < columnCount; i++) cells[i] = r.lenencBytes('a text row cell');
  if (r.remaining !== 0) throw malformed('a text row has more cells than columns');
  return cells;
}

export function encodeTextRow(cells: readonly Cell[]): Buffer {
  const w = new PacketWriter(16 * cells.length + 8);
  for (const c of cells) w.lenencBytes(c);
  return w.payload();
}

export function valueType(c: ColumnDefinition): ValueType {
  return { type: c.type, unsigned: (c.flags & COLUMN_FLAG.UNSIGNED) !== 0, decimals: c.decimals };
}

export function decodeBinaryRow(payload: Buffer, columns: readonly ColumnDefinition[]): Cell[] {
  const r = new PacketReader(payload);
  if (r.u8('the binary row header') !== 0) throw malformed('a binary row does not start with 0x00');
  const bitmap = r.bytes((columns.length + 7 + 2) >> 3, 'the NULL bitmap');
  const cells: Cell[] = new Array(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const bit = i + 2;
    if (bitmap[bit >> 3]! & (1 << (bit & 7))) cells[i] = null;
    else cells[i] = readBinaryValue(r, valueType(columns[i]!));
  }
  if (r.remaining !== 0) throw malformed('a binary row has bytes past its last column');
  return cells;
}

export function encodeBinaryRow(cells: readonly Cell[], columns: readonly ColumnDefinition[]): Buffer {
  const w = new PacketWriter(16 * cells.length + 8);
  w.u8(0);
  const bitmap = Buffer.alloc((columns.length + 7 + 2) >> 3);
  for (let i = 0; i < columns.length; i++) {
    if (cells[i] === null || cells[i] === undefined) {
      const bit = i + 2;
      bitmap[bit >> 3]! |= 1 << (bit & 7);
    }
  }
  w.bytes(bitmap);
  for (let i = 0; i < columns.length; i++) {
    const cell = cells[i];
    if (cell !== null && cell !== undefined) writeBinaryValue(w, valueType(columns[i]!), cell);
  }
  return w.payload();
}
