// Column definitions (Protocol::ColumnDefinition41), both directions. Multi-shard results and
// answers shardgate gives itself need to build them; scatter merges need to read them.
import { BINARY_COLLATION, COLUMN_FLAG, DEFAULT_COLLATION, TYPE } from './constants.js';
import { PacketReader, PacketWriter } from './packet-io.js';

export interface ColumnDefinition {
  catalog: string;
  schema: string;
  table: string;
  orgTable: string;
  name: string;
  orgName: string;
  collation: number;
  length: number;
  type: number;
  flags: number;
  decimals: number;
  /** COM_FIELD_LIST only: the column's default value. */
  defaultValue?: Buffer | null;
  /** MariaDB extended metadata (type name, format such as json), as the server sent it. */
  extended?: Buffer;
}

/** `extended`: the connection negotiated MariaDB's extended metadata (a block after the names). */
export function decodeColumnDefinition(payload: Buffer, extended = false): ColumnDefinition {
  const r = new PacketReader(payload);
  const catalog = r.lenencString('the column catalog');
  const schema = r.lenencString('the column schema');
  const table = r.lenencString('the column table');
  const orgTable = r.lenencString('the column original table');
  const name = r.lenencString('the column name');
  const orgName = r.lenencString('the column original name');
  const ext = extended ? Buffer.from(r.lenencBytes('the extended metadata') ?? Buffer.alloc(0)) : null;
  const fixed = r.lenencInt('the fixed-fields length') ?? 0;
  const start = r.pos;
  const collation = r.u16('the column collation');
  const length = r.u32('the column length');
  const type = r.u8('the column type');
  const flags = r.u16('the column flags');
  const decimals = r.u8('the column decimals');
  r.pos = Math.min(r.end, Math.max(r.pos, start + fixed));
  const c: ColumnDefinition = {
    catalog,
    schema,
    table,
    orgTable,
    name,
    orgName,
    collation,
    length,
    type,
    flags,
    decimals,
  };
  if (ext && ext.length > 0) c.extended = ext;
  return c;
}

/** `extended`: the client negotiated MariaDB's extended metadata. */
export function encodeColumnDefinition(c: ColumnDefinition, extended = false): Buffer {
  const w = new PacketWriter(64);
  w.lenencString(c.catalog)
    .lenencString(c.schema)
    .lenencString(c.table)
    .lenencString(c.orgTable)
    .lenencString(c.name)
    .lenencString(c.orgName);
  if (extended) w.lenencBytes(c.extended ?? Buffer.alloc(0));
  w.u8(0x0c).u16(c.collation).u32(c.length).u8(c.type).u16(c.flags).u8(c.decimals).u16(0);
  if (c.defaultValue !== undefined) w.lenencBytes(c.defaultValue);
  return w.payload();
}

/**
 * A server's column definition for a client that negotiated MariaDB's extended metadata
 * differently: the block after the six names added (empty) or removed, the rest kept as sent.
 */
export function withExtendedMetadata(payload: Buffer, fromServer: boolean, toClient: boolean): Buffer {
  if (fromServer === toClient) return payload;
  const r = new PacketReader(payload);
  for (let i = 0; i < 6; i++) r.lenencBytes('a column name');
  const at = r.pos;
  if (toClient) return Buffer.concat([payload.subarray(0, at), Buffer.from([0]), payload.subarray(at)]);
  r.lenencBytes('the extended metadata');
  return Buffer.concat([payload.subarray(0, at), payload.subarray(r.pos)]);
}

/** A result column shardgate answers itself: no table behind it. */
function localColumn(
  name: string,
  shape: Pick<ColumnDefinition, 'collation' | 'length' | 'type' | 'flags' | 'decimals'>,
): ColumnDefinition {
  return { catalog: 'def', schema: '', table: '', orgTable: '', name, orgName: '', ...shape };
}

/** A VARCHAR result column shardgate answers itself (SHOW shardgate.*, SHARDGATE EXPLAIN). */
export function textColumn(name: string, length = 1024): ColumnDefinition {
  return localColumn(name, {
    collation: DEFAULT_COLLATION,
    length: length * 4,
    type: TYPE.VAR_STRING,
    flags: 0,
    decimals: 0x1f,
  });
}

/** A BIGINT result column (e.g. an answer to SELECT CONNECTION_ID()). */
export function bigintColumn(name: string): ColumnDefinition {
  return localColumn(name, {
    collation: BINARY_COLLATION,
    length: 21,
    type: TYPE.LONGLONG,
    flags: COLUMN_FLAG.NOT_NULL | COLUMN_FLAG.BINARY,
    decimals: 0,
  });
}
