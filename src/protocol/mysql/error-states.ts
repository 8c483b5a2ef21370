// MySQL SQLSTATEs for shardgate errors. src/errors.ts holds one SQLSTATE per error, chosen for
// PostgreSQL; where MySQL's own server uses a different one for the same errno, MySQL clients
// get MySQL's (never mysql2's placeholder "_____").
import type { ShardgateError } from '../../errors.js';

const BY_ERRNO: Record<number, string> = {
  1040: '08004', // too many connections
  1045: '28000', // access denied
  1047: '08S01', // unknown command
  1049: '42000', // unknown database
  1053: '08S01', // server shutdown in progress
  1064: '42000', // syntax error
  1104: '42000', // too big select
  1105: 'HY000', // unknown error
  1153: '08S01', // packet too large
  1156: '08S01', // packets out of order
  1180: 'HY000', // error during commit
  1213: '40001', // deadlock: retry the transaction
  1231: '42000', // wrong value for variable
  1235: '42000', // not supported yet
  1290: 'HY000', // read-only
  1317: '70100', // query interrupted
  1835: '08S01', // malformed packet
  2003: 'HY000', // cannot connect
  2013: 'HY000', // lost connection
  3159: 'HY000', // insecure transport
};

export function mysqlSqlstate(err: ShardgateError): string {
  return BY_ERRNO[err.mysqlErrno] ?? err.sqlstate;
}
