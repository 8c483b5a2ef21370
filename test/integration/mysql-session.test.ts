// Session state under transaction pooling through the MySQL front end: SET and USE follow the
// client to every backend connection and never leak to other clients; user variables,
// temporary tables, GET_LOCK and LOCK TABLES pin the connection and are wiped when the client
// goes; prepared statements survive moving between connections; COM_PING, COM_FIELD_LIST,
// COM_RESET_CONNECTION, COM_CHANGE_USER, autocommit=0 and KILL QUERY behave as on a server.
import type { RowDataPacket } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { decodeColumnDefinition } from '../../src/protocol/mysql/columns.js';
import { COM, TYPE } from '../../src/protocol/mysql/constants.js';
import { decodeErr } from '../../src/protocol/mysql/responses.js';
import { decodeTextRow } from '../../src/protocol/mysql/rows.js';
import { encodeTextCommand } from '../../src/protocol/mysql/statements.js';
import { type MysqlProxyFixture, RawMysqlClient } from '../support/mysql-proxy-fixture.js';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

// A small pool makes clients share backend connections, which is what these tests are about.
const fx = useMysqlProxyFixture({
  shards: 2,
  replicas: 1,
  overrides: { pool: { size: 3, checkoutTimeoutMs: 5_000 } },
});

function userOn(shard: string, from = 1): number {
  for (let u = from; u < from + 1000; u++) if (fx.owner(u) === shard) return u;
  throw new Error(`no user on ${shard}`);
}

const value = async (
  c: Awaited<ReturnType<MysqlProxyFixture['connect']>>,
  sql: string,
  params: unknown[] = [],
) => {
  const [rows] = await c.query<RowDataPacket[]>(sql, params);
  return rows[0] ? Object.values(rows[0])[0] : undefined;
};

describe('session variables and schema', () => {
  it('replays SET on every backend connection the client lands on, and leaks it to nobody', async () => {
    const globalMode = await value(await fx.direct('s0-primary'), 'SELECT @@GLOBAL.sql_mode');
    const a = await fx.connect();
    await a.query("SET sql_mode = 'ANSI_QUOTES', time_zone = '+03:00'");
    for (const u of [userOn('s0'), userOn('s1')]) {
      expect(await value(a, 'SELECT @@session.sql_mode FROM users WHERE user_id = ?', [u])).toBe(
        'ANSI_QUOTES',
      );
      expect(await value(a, 'SELECT @@session.time_zone FROM users WHERE user_id = ?', [u])).toBe('+03:00');
    }
    const b = await fx.connect();
    for (let i = 0; i < 5; i++) {
      for (const u of [userOn('s0'), userOn('s1')]) {
        expect(await value(b, 'SELECT @@session.sql_mode FROM users WHERE user_id = ?', [u])).toBe(
          globalMode,
        );
      }
    }
    expect(await value(a, 'SELECT @@session.sql_mode')).toBe('ANSI_QUOTES');
  });

  it('replays SET NAMES with its collation, and SET TRANSACTION on the next transaction wherever it runs', async () => {
    const c = await fx.connect();
    await c.query('SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci');
    for (const u of [userOn('s0'), userOn('s1')]) {
      expect(await value(c, 'SELECT @@collation_connection FROM users WHERE user_id = ?', [u])).toBe(
        'utf8mb4_unicode_ci',
      );
    }
    await c.query('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE');
    await c.query('BEGIN');
    // On the default shard, where the information_schema query below is routed too.
    await c.query('SELECT count(*) FROM users WHERE user_id = ?', [userOn('s0')]);
    const level = await value(
      c,
      'SELECT trx_isolation_level FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()',
    );
    await c.query('COMMIT');
    expect(level).toBe('SERIALIZABLE');
  });

  it("labels result columns with the handshake's collation, as the server does", async () => {
    // mysql2's default is utf8mb4_unicode_ci (224); the server labels text columns with it.
    // Alternating with utf8mb4_general_ci clients moves the shared connections back and forth.
    for (const [charset, id] of [
      ['UTF8MB4_UNICODE_CI', 224],
      ['UTF8MB4_GENERAL_CI', 45],
      ['UTF8MB4_UNICODE_CI', 224],
    ] as const) {
      const c = await fx.connect({ charset });
      const [, fields] = await c.query("SELECT 'x' AS a");
      expect(fields[0]!.characterSet).toBe(id);
      await c.end();
    }
  });

  it('follows USE to every shard', async () => {
    const c = await fx.connect();
    await c.query('USE mysql');
    expect(await value(c, 'SELECT DATABASE()')).toBe('mysql');
    await c.query('USE shardgate');
    expect(await value(c, 'SELECT DATABASE() FROM users WHERE user_id = ?', [userOn('s1')])).toBe(
      'shardgate',
    );
    const other = await fx.connect();
    expect(await value(other, 'SELECT DATABASE()')).toBe('shardgate');
  });

  it('keeps autocommit=0 on one connection until the client ends the transaction', async () => {
    const c = await fx.connect();
    const u = userOn('s0', 50);
    await c.query('SET autocommit = 0');
    await c.execute('INSERT INTO comments (id, user_id, body) VALUES (?, ?, ?)', [881001, u, 'not yet']);
    await c.query('ROLLBACK');
    await c.query('SET autocommit = 1');
    const d = await fx.direct('s0-primary');
    const [rows] = await d.query<RowDataPacket[]>('SELECT id FROM comments WHERE id = 881001');
    expect(rows.length).toBe(0);
  });
});

describe('pinned sessions', () => {
  it('user variables and temporary tables stay with the client, and are gone for the next one', async () => {
    const a = await fx.connect();
    await a.query('SET @who = 42');
    await a.query('CREATE TEMPORARY TABLE tmp_pin (x INT)');
    await a.query('INSERT INTO tmp_pin VALUES (1), (2)');
    for (let i = 0; i < 3; i++) {
      expect(Number(await value(a, 'SELECT @who'))).toBe(42);
      expect(Number(await value(a, 'SELECT count(*) FROM tmp_pin'))).toBe(2);
    }
    await a.end();
    for (let i = 0; i < 6; i++) {
      const b = await fx.connect();
      expect(await value(b, 'SELECT @who')).toBeNull();
      await expect(b.query('SELECT * FROM tmp_pin')).rejects.toMatchObject({ errno: 1146 });
      await b.end();
    }
  });

  it('GET_LOCK pins; the lock is released when the client leaves', async () => {
    const a = await fx.connect();
    const b = await fx.connect();
    expect(Number(await value(a, "SELECT GET_LOCK('sg_lock', 0)"))).toBe(1);
    expect(Number(await value(b, "SELECT IS_FREE_LOCK('sg_lock')"))).toBe(0);
    expect(Number(await value(a, "SELECT IS_USED_LOCK('sg_lock') IS NOT NULL"))).toBe(1);
    await a.end();
    let free = 0;
    for (let i = 0; i < 100 && free !== 1; i++) {
      free = Number(await value(b, "SELECT IS_FREE_LOCK('sg_lock')"));
      if (free !== 1) await new Promise((r) => setTimeout(r, 20));
    }
    expect(free).toBe(1);
    await b.end();
  });

  it('LOCK TABLES holds one connection until UNLOCK TABLES', async () => {
    const c = await fx.connect();
    await c.query('LOCK TABLES trending_topics READ');
    expect(Number(await value(c, 'SELECT count(*) FROM trending_topics'))).toBeGreaterThan(0);
    await c.query('UNLOCK TABLES');
    await c.end();
  });
});

describe('session tracking', () => {
  it("OKs carry no state-change marker the server would not send (shardgate's own tracking stays hidden)", async () => {
    // mysql2 asks for CLIENT_SESSION_TRACK; the server's session_track_state_change is off by
    // default, so a user variable or temporary table leaves SESSION_STATE_CHANGED unset.
    const header = async (c: Awaited<ReturnType<MysqlProxyFixture['connect']>>, sql: string) => {
      const [res] = await c.query(sql);
      return (Array.isArray(res) ? res : [res]).map((r) =>
        Array.isArray(r) ? 'rows' : { serverStatus: (r as { serverStatus: number }).serverStatus },
      );
    };
    const direct = await fx.direct('s0-primary');
    const proxied = await fx.connect({ multipleStatements: true });
    for (const sql of ['SET @a = 1', 'CREATE TEMPORARY TABLE tracked_t (x int)', 'SET @b = 2']) {
      const viaServer = await header(direct, sql);
      expect(viaServer).toEqual([{ serverStatus: 2 }]);
      expect(await header(proxied, sql)).toEqual(viaServer);
    }
    // Each result of a multi-statement query, as the server answers it (MORE_RESULTS on all but the last).
    expect(await header(proxied, 'SET @c = 1; SELECT 1; SET @d = 2')).toEqual([
      { serverStatus: 10 },
      'rows',
      { serverStatus: 2 },
    ]);
  });
});

describe('MariaDB extended column metadata', () => {
  it('JSON columns come back as JSON, in text and binary results (mysql2 tells them apart by it)', async () => {
    const c = await fx.connect();
    await c.query('CREATE TEMPORARY TABLE json_t (j JSON)');
    await c.query('INSERT INTO json_t VALUES (?)', [JSON.stringify({ face: '\u{1F602}' })]);
    const [text] = await c.query<RowDataPacket[]>('SELECT j FROM json_t');
    const [binary] = await c.execute<RowDataPacket[]>('SELECT j FROM json_t');
    expect(text[0]!.j).toEqual({ face: '\u{1F602}' });
    expect(binary[0]!.j).toEqual({ face: '\u{1F602}' });
    await c.end(); // the temporary table pins a connection of the small pool
    // A client that does not ask for extended metadata (no CLIENT_MYSQL-less handshake) gets
    // plain column definitions: the block the server sends shardgate is taken out.
    const raw = await RawMysqlClient.connect(fx.port);
    const res = await raw.command(
      encodeTextCommand(COM.QUERY, "SELECT JSON_ARRAY(1) AS j, 'x' AS s"),
      'result',
    );
    const defs = res.slice(1, 3).map((p) => decodeColumnDefinition(p.payload));
    expect(defs.map((d) => [d.name, d.type, d.collation])).toEqual([
      ['j', TYPE.VAR_STRING, 45],
      ['s', TYPE.VAR_STRING, 45],
    ]);
    expect(decodeTextRow(res[4]!.payload, 2).map((v) => v?.toString())).toEqual(['[1]', 'x']);
    raw.destroy();
  });
});

describe('prepared statements', () => {
  it('survive moving between backend connections and shards', async () => {
    const c = await fx.connect();
    const other = await fx.connect();
    const users = [userOn('s0'), userOn('s1'), userOn('s0', 200), userOn('s1', 200)];
    for (let round = 0; round < 10; round++) {
      for (const u of users) {
        const [rows] = await c.execute<RowDataPacket[]>(
          'SELECT user_id, count(*) AS n FROM posts WHERE user_id = ? GROUP BY user_id',
          [u],
        );
        expect(Number(rows[0]?.user_id ?? u)).toBe(u);
        // Another client keeps the small pool busy, so c's statements land on other connections.
        await other.execute('SELECT id FROM likes WHERE user_id = ? LIMIT 1', [u]);
      }
    }
    await c.query('BEGIN');
    const [inTx] = await c.execute<RowDataPacket[]>('SELECT count(*) AS n FROM posts WHERE user_id = ?', [
      users[1]!,
    ]);
    expect(Number(inTx[0]!.n)).toBeGreaterThan(0);
    await c.query('COMMIT');
  });

  it('send long data before an execute', async () => {
    const raw = await RawMysqlClient.connect(fx.port);
    const prep = await raw.command(
      encodeTextCommand(COM.STMT_PREPARE, 'SELECT CONCAT(?, ?) AS s'),
      'prepare',
    );
    const id = prep[0]!.payload.readUInt32LE(1);
    const long = Buffer.alloc(7 + 5);
    long[0] = COM.STMT_SEND_LONG_DATA;
    long.writeUInt32LE(id, 1);
    long.writeUInt16LE(0, 5);
    long.write('hello', 7);
    raw.write(Buffer.concat([Buffer.from([12, 0, 0, 0]), long]));
    // Execute: 2 params, none NULL, types bound: VAR_STRING x2; param 0 comes from long data.
    const exec = Buffer.from([
      COM.STMT_EXECUTE,
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      1,
      0xfd,
      0,
      0xfd,
      0,
      6,
      ...Buffer.from(' world'),
    ]);
    exec.writeUInt32LE(id, 1);
    const res = await raw.command(exec, 'result');
    const row = res.find((p) => p.payload[0] === 0 && p.payload.length > 3 && p.payload.includes(0x68));
    expect(row?.payload.toString('latin1')).toContain('hello world');
    raw.destroy();
  });
});

describe('commands', () => {
  it('answers COM_PING, COM_FIELD_LIST and COM_RESET_CONNECTION', async () => {
    const c = await fx.connect();
    await c.ping();
    const raw = await RawMysqlClient.connect(fx.port);
    const fields = await raw.command(
      Buffer.concat([Buffer.from([COM.FIELD_LIST]), Buffer.from('posts\0')]),
      'field-list',
    );
    const names = fields.slice(0, -1).map((p) => decodeColumnDefinition(p.payload).name);
    expect(names).toContain('user_id');
    await raw.command(encodeTextCommand(COM.QUERY, 'SET @r = 1'));
    const reset = await raw.command(Buffer.from([COM.RESET_CONNECTION]));
    expect(reset[0]!.payload[0]).toBe(0);
    const after = await raw.command(encodeTextCommand(COM.QUERY, 'SELECT @r'));
    const rowPacket = after[after.length - 2]!;
    expect(decodeTextRow(rowPacket.payload, 1)[0]).toBeNull();
    raw.destroy();
  });

  it('COM_INIT_DB: known database switches, unknown one is 1049', async () => {
    const raw = await RawMysqlClient.connect(fx.port);
    const ok = await raw.command(encodeTextCommand(COM.INIT_DB, 'mysql'));
    expect(ok[0]!.payload[0]).toBe(0);
    const bad = await raw.command(encodeTextCommand(COM.INIT_DB, 'no_such_db'));
    expect(decodeErr(bad[0]!.payload).errno).toBe(1049);
    raw.destroy();
  });

  it('COM_CHANGE_USER re-authenticates and resets the session; a wrong password is 1045', async () => {
    const c = await fx.connect();
    await c.query('SET @before = 1');
    await c.changeUser({ user: 'native', password: 'native-pw' });
    expect(await value(c, 'SELECT @before')).toBeNull();
    const d = await fx.connect();
    await expect(d.changeUser({ user: 'native', password: 'wrong' })).rejects.toMatchObject({ errno: 1045 });
  });

  it('KILL QUERY stops the statement of another session of the same user; others may not', async () => {
    const victim = await fx.connect();
    const killer = await fx.connect();
    const stranger = await fx.connect({ user: 'other', password: 'other-pw' });
    const u = userOn('s1');
    const running = victim.query('SELECT SLEEP(20) FROM users WHERE user_id = ?', [u]).then(
      () => 'finished',
      (e: { errno: number }) => e.errno,
    );
    await new Promise((r) => setTimeout(r, 300));
    await expect(stranger.query(`KILL QUERY ${victim.threadId}`)).rejects.toMatchObject({ errno: 1095 });
    await killer.query(`KILL QUERY ${victim.threadId}`);
    const outcome = await running;
    // MariaDB ends a killed SLEEP early, as a result (1) or an error 1317.
    expect(outcome === 1317 || outcome === 'finished').toBe(true);
    expect(Number(await value(victim, 'SELECT 7'))).toBe(7);
    await expect(killer.query('KILL QUERY 4242')).rejects.toMatchObject({ errno: 1094 });
    await killer.query(`KILL ${victim.threadId}`);
    await expect(victim.query('SELECT 1')).rejects.toBeTruthy();
    expect(Number(await value(killer, 'SELECT 8'))).toBe(8);
  });

  it('KILL of a shardgate connection id inside a multi-statement query (mysql2 test-pool-disconnect)', async () => {
    const victim = await fx.connect();
    const killer = await fx.connect({ multipleStatements: true });
    const [results] = await killer.query<RowDataPacket[][]>('KILL ?; SELECT 5 AS v', [victim.threadId]);
    // The KILL's OK, then the SELECT's rows, in one response.
    expect(results).toHaveLength(2);
    expect(results[1]![0]!.v).toBe(5);
    await expect(victim.query('SELECT 1')).rejects.toBeTruthy();
    // An id that names no session stops the query at the KILL, as a server does.
    await expect(killer.query('KILL 4242; SELECT 6')).rejects.toMatchObject({ errno: 1094 });
    // A KILL behind another statement is refused before anything runs (never sent to a server).
    await expect(killer.query('SELECT 7; KILL 4242')).rejects.toMatchObject({ errno: 1235 });
    const [again] = await killer.query<RowDataPacket[][]>('SELECT 9 AS v; SELECT 10 AS w');
    expect(again[1]![0]!.w).toBe(10);
  });
});
