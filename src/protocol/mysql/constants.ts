// MySQL/MariaDB wire protocol numbers in one place: capability flags, server status flags,
// command bytes, column types and the packet markers the codecs and scanners look for.

/** Capability flags (lower 32 bits; MariaDB's extended capabilities live in the filler bytes). */
export const CAP = {
  LONG_PASSWORD: 0x1,
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  NO_SCHEMA: 0x10,
  COMPRESS: 0x20,
  ODBC: 0x40,
  LOCAL_FILES: 0x80,
  IGNORE_SPACE: 0x100,
  PROTOCOL_41: 0x200,
  INTERACTIVE: 0x400,
  SSL: 0x800,
  IGNORE_SIGPIPE: 0x1000,
  TRANSACTIONS: 0x2000,
  RESERVED: 0x4000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x10000,
  MULTI_RESULTS: 0x20000,
  PS_MULTI_RESULTS: 0x40000,
  PLUGIN_AUTH: 0x80000,
  CONNECT_ATTRS: 0x100000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
  CAN_HANDLE_EXPIRED_PASSWORDS: 0x400000,
  SESSION_TRACK: 0x800000,
  DEPRECATE_EOF: 0x1000000,
  OPTIONAL_RESULTSET_METADATA: 0x2000000,
  ZSTD_COMPRESSION: 0x4000000,
  QUERY_ATTRIBUTES: 0x8000000,
} as const;

/**
 * What shardgate offers clients. Not offered: COMPRESS, LOCAL_FILES (LOAD DATA LOCAL), MySQL 8's
 * optional metadata and query attributes (they change packet formats MariaDB does not speak).
 * SSL is added when TLS is configured.
 */
export const SERVER_CAPABILITIES =
  CAP.LONG_PASSWORD |
  CAP.FOUND_ROWS |
  CAP.LONG_FLAG |
  CAP.CONNECT_WITH_DB |
  CAP.NO_SCHEMA |
  CAP.ODBC |
  CAP.IGNORE_SPACE |
  CAP.PROTOCOL_41 |
  CAP.INTERACTIVE |
  CAP.IGNORE_SIGPIPE |
  CAP.TRANSACTIONS |
  CAP.RESERVED |
  CAP.SECURE_CONNECTION |
  CAP.MULTI_STATEMENTS |
  CAP.MULTI_RESULTS |
  CAP.PS_MULTI_RESULTS |
  CAP.PLUGIN_AUTH |
  CAP.CONNECT_ATTRS |
  CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CAP.CAN_HANDLE_EXPIRED_PASSWORDS |
  CAP.SESSION_TRACK |
  CAP.DEPRECATE_EOF;

/**
 * MariaDB's extended capabilities (the upper 32 bits, sent in filler bytes when CLIENT_MYSQL,
 * bit 0, is clear). EXTENDED_METADATA adds each column's real type (json, uuid, inet6...) to
 * its definition: MariaDB sends JSON as LONGTEXT, and clients tell JSON apart only by it.
 */
export const MARIADB_CAP = {
  EXTENDED_METADATA: 0x8,
} as const;

/** Server status flags (OK / EOF packets). */
export const STATUS = {
  IN_TRANS: 0x1,
  AUTOCOMMIT: 0x2,
  MORE_RESULTS_EXISTS: 0x8,
  NO_GOOD_INDEX_USED: 0x10,
  NO_INDEX_USED: 0x20,
  CURSOR_EXISTS: 0x40,
  LAST_ROW_SENT: 0x80,
  DB_DROPPED: 0x100,
  NO_BACKSLASH_ESCAPES: 0x200,
  METADATA_CHANGED: 0x400,
  QUERY_WAS_SLOW: 0x800,
  PS_OUT_PARAMS: 0x1000,
  IN_TRANS_READONLY: 0x2000,
  SESSION_STATE_CHANGED: 0x4000,
} as const;

/** Command bytes (first payload byte of a client command packet). */
export const COM = {
  SLEEP: 0x00,
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  CREATE_DB: 0x05,
  DROP_DB: 0x06,
  REFRESH: 0x07,
  SHUTDOWN: 0x08,
  STATISTICS: 0x09,
  PROCESS_INFO: 0x0a,
  CONNECT: 0x0b,
  PROCESS_KILL: 0x0c,
  DEBUG: 0x0d,
  PING: 0x0e,
  TIME: 0x0f,
  DELAYED_INSERT: 0x10,
  CHANGE_USER: 0x11,
  BINLOG_DUMP: 0x12,
  TABLE_DUMP: 0x13,
  CONNECT_OUT: 0x14,
  REGISTER_SLAVE: 0x15,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  STMT_FETCH: 0x1c,
  DAEMON: 0x1d,
  BINLOG_DUMP_GTID: 0x1e,
  RESET_CONNECTION: 0x1f,
} as const;

/** First payload byte of server packets. */
export const MARKER = {
  OK: 0x00,
  LOCAL_INFILE: 0xfb,
  EOF: 0xfe,
  ERR: 0xff,
  AUTH_MORE_DATA: 0x01,
  AUTH_SWITCH: 0xfe,
} as const;

/** Column types (MYSQL_TYPE_*). */
export const TYPE = {
  DECIMAL: 0x00,
  TINY: 0x01,
  SHORT: 0x02,
  LONG: 0x03,
  FLOAT: 0x04,
  DOUBLE: 0x05,
  NULL: 0x06,
  TIMESTAMP: 0x07,
  LONGLONG: 0x08,
  INT24: 0x09,
  DATE: 0x0a,
  TIME: 0x0b,
  DATETIME: 0x0c,
  YEAR: 0x0d,
  NEWDATE: 0x0e,
  VARCHAR: 0x0f,
  BIT: 0x10,
  TIMESTAMP2: 0x11,
  DATETIME2: 0x12,
  TIME2: 0x13,
  JSON: 0xf5,
  NEWDECIMAL: 0xf6,
  ENUM: 0xf7,
  SET: 0xf8,
  TINY_BLOB: 0xf9,
  MEDIUM_BLOB: 0xfa,
  LONG_BLOB: 0xfb,
  BLOB: 0xfc,
  VAR_STRING: 0xfd,
  STRING: 0xfe,
  GEOMETRY: 0xff,
} as const;

/** Column definition flags used here. */
export const COLUMN_FLAG = {
  NOT_NULL: 0x1,
  PRI_KEY: 0x2,
  UNSIGNED: 0x20,
  BINARY: 0x80,
} as const;

/** Session state change types in OK packets (CLIENT_SESSION_TRACK). */
export const SESSION_TRACK = {
  SYSTEM_VARIABLES: 0x00,
  SCHEMA: 0x01,
  STATE_CHANGE: 0x02,
  GTIDS: 0x03,
  TRANSACTION_CHARACTERISTICS: 0x04,
  TRANSACTION_STATE: 0x05,
} as const;

/** Largest payload of one packet; a payload of exactly this size is continued in the next one. */
export const MAX_PACKET_PAYLOAD = 0xffffff;

/** utf8mb4_general_ci: the collation shardgate announces and uses towards backends by default. */
export const DEFAULT_COLLATION = 45;

/** Binary collation id (column definitions of numeric columns). */
export const BINARY_COLLATION = 63;
