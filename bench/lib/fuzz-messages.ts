// Protocol fuzz input for both front ends, from a seed (so a failure replays): PostgreSQL frontend
// messages and MySQL command packets, mostly well framed with plausible types and bodies (they get
// past the framer into the session machines), sometimes raw garbage. Shared by the CI fuzz test
// (test/integration/protocol-fuzz.test.ts) and `shardgate bench fuzz`.
import { framePayload } from '../../src/protocol/mysql/packet-io.js';
import { mulberry32 } from './seeded-random.js';

/** The fuzz runs' seeded PRNG. */
export const prng = mulberry32;

const pick = <T>(r: () => number, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const int = (r: () => number, max: number) => Math.floor(r() * max);

function randomBytes(r: () => number, max: number): Buffer {
  const b = Buffer.alloc(int(r, max + 1));
  for (let i = 0; i < b.length; i++) b[i] = int(r, 256);
  return b;
}

/** SQL-ish text: fragments that reach the tokenizer, the parser and the router's corners. */
const SQL_PIECES = [
  'SELECT 1',
  'SELECT * FROM users WHERE user_id = 7',
  'SELECT name FROM users WHERE user_id = $1',
  "INSERT INTO users (id, user_id, name) VALUES (1, 1, 'a'), (2, 2, 'b\\')",
  'UPDATE users SET name = $1',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SET search_path = public',
  'SET shardgate.vip = on',
  'SHARDGATE EXPLAIN SELECT 1',
  'SHARDGATE EXPLAIN SHARDGATE EXPLAIN SELECT 1',
  '/* shardgate: shard=s0 */ SELECT 1',
  "SELECT E'\\'', $$x$$, U&'\\0041'",
  'SELECT count(*) FROM users GROUP BY 1 ORDER BY 2',
  'LISTEN x',
  'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
  'DO $$BEGIN PERFORM 1; END$$',
  'COPY users FROM STDIN',
  ';;;',
  "'unterminated",
  '/* unterminated',
  '(((((',
];

export function randomSql(r: () => number): string {
  const n = 1 + int(r, 3);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    let piece = pick(r, SQL_PIECES);
    if (r() < 0.2) piece = piece.slice(0, int(r, piece.length + 1));
    if (r() < 0.1) piece += String.fromCharCode(int(r, 0x3000));
    parts.push(piece);
  }
  return parts.join(r() < 0.5 ? '; ' : ' ');
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

function pgFrame(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n, 0);
  return b;
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

const NAMES = ['', 's1', 's2', 'p'];

/** One PostgreSQL frontend message for the query cycle (authenticated phase). */
export function pgMessage(r: () => number): Buffer {
  const x = r();
  if (x < 0.03) return randomBytes(r, 64);
  if (x < 0.06) return pgFrame(String.fromCharCode(int(r, 128)), randomBytes(r, 32));
  const kind = pick(r, ['Q', 'Q', 'P', 'B', 'D', 'E', 'C', 'S', 'S', 'H', 'F', 'd', 'c', 'f']);
  switch (kind) {
    case 'Q':
      return pgFrame('Q', cstr(randomSql(r)));
    case 'P': {
      const types = Array.from({ length: int(r, 3) }, () => int32(pick(r, [0, 20, 23, 25, int(r, 5000)])));
      return pgFrame(
        'P',
        Buffer.concat([cstr(pick(r, NAMES)), cstr(randomSql(r)), int16(types.length), ...types]),
      );
    }
    case 'B': {
      const values = Array.from({ length: int(r, 3) }, () => {
        if (r() < 0.2) return int32(-1);
        const v = r() < 0.5 ? Buffer.from(String(int(r, 1000))) : randomBytes(r, 12);
        return Buffer.concat([int32(v.length), v]);
      });
      const formats = r() < 0.8 ? [int16(0)] : [int16(1), int16(int(r, 3))];
      const body = Buffer.concat([
        cstr(pick(r, NAMES)),
        cstr(pick(r, NAMES)),
        ...formats,
        int16(values.length),
        ...values,
        int16(0),
      ]);
      return pgFrame('B', r() < 0.1 ? body.subarray(0, int(r, body.length)) : body);
    }
    case 'D':
    case 'C':
      return pgFrame(kind, Buffer.concat([Buffer.from(pick(r, ['S', 'P', 'X'])), cstr(pick(r, NAMES))]));
    case 'E':
      return pgFrame('E', Buffer.concat([cstr(pick(r, NAMES)), int32(int(r, 3))]));
    case 'd':
      return pgFrame('d', randomBytes(r, 32));
    case 'f':
      return pgFrame('f', cstr('fuzz'));
    default:
      return pgFrame(kind, Buffer.alloc(0));
  }
}

/** A PostgreSQL startup-phase packet: a real startup message with odd parameters, or junk. */
export function pgStartupJunk(r: () => number): Buffer {
  const x = r();
  if (x < 0.3) return randomBytes(r, 48);
  const code = pick(r, [196608, 80877103, 80877104, 80877102, int(r, 2 ** 31)]);
  const params = Array.from({ length: int(r, 4) }, () =>
    Buffer.concat([
      cstr(pick(r, ['user', 'database', 'options', 'application_name', 'x'])),
      cstr(randomSql(r).slice(0, 20)),
    ]),
  );
  const body = Buffer.concat([int32(code), ...params, r() < 0.8 ? Buffer.from([0]) : Buffer.alloc(0)]);
  const len = r() < 0.9 ? body.length + 4 : int(r, 100_000);
  return Buffer.concat([int32(len), body]);
}

/** A PostgreSQL startup packet that logs `user` in (trust auth) to `database`. */
export function pgStartup(user: string, database: string): Buffer {
  const body = Buffer.concat([
    int32(196608),
    cstr('user'),
    cstr(user),
    cstr('database'),
    cstr(database),
    Buffer.from([0]),
  ]);
  return Buffer.concat([int32(body.length + 4), body]);
}

const COMMANDS = [0x03, 0x03, 0x03, 0x16, 0x17, 0x19, 0x1a, 0x18, 0x0e, 0x02, 0x1c, 0x04, 0x09, 0x1f, 0x11];

/** One MySQL command packet (sequence 0) for the command phase. */
export function mysqlCommand(r: () => number): Buffer {
  const x = r();
  if (x < 0.03) return randomBytes(r, 64);
  const command = r() < 0.05 ? int(r, 256) : pick(r, COMMANDS);
  let body: Buffer;
  switch (command) {
    case 0x03: // COM_QUERY
    case 0x16: // COM_STMT_PREPARE
      body = Buffer.from(randomSql(r).replace(/\$\d/g, '?'));
      break;
    case 0x17: {
      // COM_STMT_EXECUTE: id, flags, iteration count, maybe a null bitmap and types
      body = Buffer.concat([Buffer.from([int(r, 4), 0, 0, 0, 0, 1, 0, 0, 0]), randomBytes(r, 16)]);
      break;
    }
    case 0x19:
    case 0x1a:
      body = Buffer.from([int(r, 4), 0, 0, 0]);
      break;
    case 0x18:
      body = Buffer.concat([Buffer.from([int(r, 4), 0, 0, 0, int(r, 3), 0]), randomBytes(r, 16)]);
      break;
    case 0x02:
      body = Buffer.from(pick(r, ['shardgate', 'nope', '']));
      break;
    default:
      body = randomBytes(r, 16);
  }
  return framePayload(Buffer.concat([Buffer.from([command]), body]), r() < 0.95 ? 0 : int(r, 256));
}
