// Connection phase packets: the server's Handshake v10, the client's SSLRequest and
// HandshakeResponse41, COM_CHANGE_USER, and the auth switch / more-data packets. Both directions
// of each: the front end decodes what clients send, the backend client encodes it.
import { CAP, MARKER } from './constants.js';
import { malformed, PacketReader, PacketWriter } from './packet-io.js';

export interface HandshakeV10 {
  serverVersion: string;
  connectionId: number;
  /** The 20-byte scramble (auth-plugin-data parts 1 and 2, without the trailing NUL). */
  scramble: Buffer;
  capabilities: number;
  /** MariaDB extended capabilities (when the server clears CLIENT_MYSQL, bit 0). */
  mariadbCapabilities: number;
  collation: number;
  status: number;
  authPlugin: string;
}

export function encodeHandshakeV10(h: HandshakeV10): Buffer {
  const w = new PacketWriter(128);
  w.u8(10).nulString(h.serverVersion).u32(h.connectionId);
  w.bytes(h.scramble.subarray(0, 8)).u8(0);
  w.u16(h.capabilities & 0xffff)
    .u8(h.collation)
    .u16(h.status)
    .u16(h.capabilities >>> 16);
  w.u8(h.scramble.length + 1);
  w.zeros(6).u32(h.mariadbCapabilities);
  w.bytes(h.scramble.subarray(8)).u8(0);
  w.nulString(h.authPlugin);
  return w.payload();
}

export function decodeHandshakeV10(payload: Buffer): HandshakeV10 {
  const r = new PacketReader(payload);
  const version = r.u8('the protocol version');
  if (version !== 10) throw malformed(`server speaks handshake protocol ${version}, not 10`);
  const serverVersion = r.nulString('the server version');
  const connectionId = r.u32('the connection id');
  const part1 = r.bytes(8, 'the scramble');
  r.skip(1);
  let capabilities = r.u16('the capability flags');
  if (r.remaining === 0) {
    return {
      serverVersion,
      connectionId,
      scramble: Buffer.from(part1),
      capabilities,
      mariadbCapabilities: 0,
      collation: 0,
      status: 0,
      authPlugin: 'mysql_native_password',
    };
  }
  const collation = r.u8('the collation');
  const status = r.u16('the status flags');
  capabilities |= r.u16('the capability flags') << 16;
  capabilities >>>= 0;
  const dataLength = r.u8('the auth data length');
  r.skip(6);
  const mariadbCapabilities = r.u32('the extended capabilities');
  let part2: Buffer = Buffer.alloc(0);
  if (capabilities & CAP.SECURE_CONNECTION) {
    const n = Math.max(13, dataLength - 8);
    part2 = r.bytes(Math.min(n, r.remaining), 'the scramble');
    if (part2.length > 0 && part2[part2.length - 1] === 0) part2 = part2.subarray(0, -1);
  }
  let authPlugin = 'mysql_native_password';
  if (capabilities & CAP.PLUGIN_AUTH && r.remaining > 0) {
    const rest = r.rest();
    const nul = rest.indexOf(0);
    authPlugin = rest.toString('utf8', 0, nul < 0 ? rest.length : nul);
  }
  return {
    serverVersion,
    connectionId,
    scramble: Buffer.concat([part1, part2]),
    capabilities,
    mariadbCapabilities: capabilities & CAP.LONG_PASSWORD ? 0 : mariadbCapabilities,
    collation,
    status,
    authPlugin,
  };
}

export interface HandshakeResponse {
  capabilities: number;
  /** MariaDB extended capabilities (sent when CLIENT_MYSQL, bit 0, is clear). */
  mariadbCapabilities?: number;
  maxPacketSize: number;
  collation: number;
  user: string;
  authResponse: Buffer;
  database: string | null;
  authPlugin: string | null;
  attributes: Map<string, string>;
}

/** An SSLRequest is the first 32 bytes of a HandshakeResponse41 with CLIENT_SSL set. */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === 32 && (payload.readUInt32LE(0) & CAP.SSL) !== 0;
}

export function encodeSslRequest(capabilities: number, collation: number, mariadbCapabilities = 0): Buffer {
  return new PacketWriter(32)
    .u32(capabilities | CAP.SSL)
    .u32(0x1000000)
    .u8(collation)
    .zeros(19)
    .u32(mariadbCapabilities)
    .payload();
}

export function decodeHandshakeResponse(payload: Buffer): HandshakeResponse {
  const r = new PacketReader(payload);
  const capabilities = r.u32('the capability flags');
  if (!(capabilities & CAP.PROTOCOL_41)) {
    throw malformed(
      'the client does not speak protocol 4.1 (CLIENT_PROTOCOL_41); use a client from this century',
    );
  }
  const maxPacketSize = r.u32('the max packet size');
  const collation = r.u8('the collation');
  r.skip(19, 'the reserved bytes');
  const extended = r.u32('the extended capabilities');
  const mariadbCapabilities = capabilities & CAP.LONG_PASSWORD ? 0 : extended;
  const user = r.nulString('the user name');
  let authResponse: Buffer;
  if (capabilities & CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    authResponse = r.lenencBytes('the auth response') ?? Buffer.alloc(0);
  } else if (capabilities & CAP.SECURE_CONNECTION) {
    authResponse = r.bytes(r.u8('the auth response length'), 'the auth response');
  } else {
    authResponse = r.nulBytes('the auth response');
  }
  let database: string | null = null;
  if (capabilities & CAP.CONNECT_WITH_DB && r.remaining > 0) database = r.nulString('the database name');
  const { authPlugin, attributes } = readPluginAndAttributes(r, capabilities);
  return {
    capabilities,
    mariadbCapabilities,
    maxPacketSize,
    collation,
    user,
    authResponse: Buffer.from(authResponse),
    database: database === '' ? null : database,
    authPlugin,
    attributes,
  };
}

/**
 * The tail HandshakeResponse41 and COM_CHANGE_USER share: the auth plugin's name and the
 * connection attributes, each when negotiated and present.
 */
function readPluginAndAttributes(
  r: PacketReader,
  capabilities: number,
): { authPlugin: string | null; attributes: Map<string, string> } {
  let authPlugin: string | null = null;
  if (capabilities & CAP.PLUGIN_AUTH && r.remaining > 0) authPlugin = r.nulString('the auth plugin name');
  const attributes = new Map<string, string>();
  if (capabilities & CAP.CONNECT_ATTRS && r.remaining > 0) readAttributes(r, attributes);
  return { authPlugin, attributes };
}

function readAttributes(r: PacketReader, into: Map<string, string>): void {
  const total = r.lenencInt('the connection attributes length') ?? 0;
  if (total > r.remaining) throw malformed('connection attributes run past the packet');
  const end = r.pos + total;
  while (r.pos < end) {
    const key = r.lenencString('a connection attribute name');
    const value = r.lenencString('a connection attribute value');
    if (r.pos > end) throw malformed('connection attributes run past their length');
    if (into.size < 64) into.set(key, value);
  }
}

export function encodeHandshakeResponse(h: HandshakeResponse): Buffer {
  const w = new PacketWriter(128);
  w.u32(h.capabilities)
    .u32(h.maxPacketSize)
    .u8(h.collation)
    .zeros(19)
    .u32(h.mariadbCapabilities ?? 0);
  w.nulString(h.user);
  if (h.capabilities & CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA) w.lenencBytes(h.authResponse);
  else w.u8(h.authResponse.length).bytes(h.authResponse);
  if (h.capabilities & CAP.CONNECT_WITH_DB) w.nulString(h.database ?? '');
  if (h.capabilities & CAP.PLUGIN_AUTH) w.nulString(h.authPlugin ?? '');
  if (h.capabilities & CAP.CONNECT_ATTRS) {
    const attrs = new PacketWriter(64);
    for (const [k, v] of h.attributes) attrs.lenencString(k).lenencString(v);
    w.lenencBytes(attrs.payload());
  }
  return w.payload();
}

export interface ChangeUser {
  user: string;
  authResponse: Buffer;
  database: string | null;
  collation: number | null;
  authPlugin: string | null;
  attributes: Map<string, string>;
}

/** COM_CHANGE_USER (the command byte included); the client's capabilities decide the layout. */
export function decodeChangeUser(payload: Buffer, capabilities: number): ChangeUser {
  const r = new PacketReader(payload, 1);
  const user = r.nulString('the user name');
  const authResponse =
    capabilities & CAP.SECURE_CONNECTION
      ? r.bytes(r.u8('the auth response length'), 'the auth response')
      : r.nulBytes('the auth response');
  const database = r.remaining > 0 ? r.nulString('the database name') : '';
  let collation: number | null = null;
  if (r.remaining >= 2) collation = r.u16('the character set');
  const { authPlugin, attributes } = readPluginAndAttributes(r, capabilities);
  return {
    user,
    authResponse: Buffer.from(authResponse),
    database: database === '' ? null : database,
    collation,
    authPlugin,
    attributes,
  };
}

export function encodeAuthSwitchRequest(plugin: string, data: Buffer): Buffer {
  return new PacketWriter(64).u8(MARKER.AUTH_SWITCH).nulString(plugin).bytes(data).u8(0).payload();
}

export interface AuthSwitchRequest {
  plugin: string;
  /** Plugin data without a trailing NUL. */
  data: Buffer;
}

export function decodeAuthSwitchRequest(payload: Buffer): AuthSwitchRequest {
  const r = new PacketReader(payload, 1);
  const plugin = r.nulString('the auth plugin name');
  let data = r.rest();
  if (data.length > 0 && data[data.length - 1] === 0) data = data.subarray(0, -1);
  return { plugin, data: Buffer.from(data) };
}

export function encodeAuthMoreData(data: Buffer): Buffer {
  return new PacketWriter(data.length + 1).u8(MARKER.AUTH_MORE_DATA).bytes(data).payload();
}
