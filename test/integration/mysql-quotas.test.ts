// Quotas on the MySQL front end, the same mechanism and config as PostgreSQL's: one user cannot
// hold every server connection (pins, transactions), and a session idle inside a transaction is
// closed with its transaction rolled back.
import type { RowDataPacket } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { serverSlotsHeld } from '../../src/backend/user-quota.js';
import { MYSQL_TEST_USERS } from '../support/mysql-proxy-fixture.js';
import { quotaOverrides, waitForQuota } from '../support/quota-config.js';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const fx = useMysqlProxyFixture(
  {
    shards: 1,
    replicas: 0,
    demoUsers: 5,
    overrides: quotaOverrides(MYSQL_TEST_USERS),
  },
  180_000,
);

describe('per-user server connection limit (MySQL)', () => {
  it('a user at its limit waits, then gets 1203; other users are served; a freed slot goes to the waiter', async () => {
    const c1 = await fx.connect();
    const c2 = await fx.connect();
    // GET_LOCK pins a server connection to each session.
    await c1.query("SELECT GET_LOCK('quota-1', 0)");
    await c2.query("SELECT GET_LOCK('quota-2', 0)");
    expect(serverSlotsHeld('mysql', 'app')).toBe(2);
    const c3 = await fx.connect();
    await expect(c3.query('SELECT 1 AS one')).rejects.toMatchObject({ errno: 1203 });
    const other = await fx.connect({ user: 'native', password: 'native-pw' });
    const [two] = await other.query<RowDataPacket[]>('SELECT 2 AS two');
    expect(Number(two[0]?.two)).toBe(2);
    const waiting = c3.query<RowDataPacket[]>('SELECT 3 AS three');
    await c1.end();
    const [three] = await waiting;
    expect(Number(three[0]?.three)).toBe(3);
    await c2.end();
    await c3.end();
    await other.end();
    await waitForQuota('every slot to be given back', () => serverSlotsHeld('mysql', 'app') === 0);
  });
});

describe('idle in transaction timeout (MySQL)', () => {
  it('closes the session with errno 4031 and rolls its transaction back', async () => {
    const c = await fx.connect({ user: 'native', password: 'native-pw' });
    const errors: Array<{ code?: unknown }> = [];
    c.on('error', (e: Error & { code?: unknown }) => errors.push(e));
    await c.query('BEGIN');
    await c.query("INSERT INTO trending_topics (id, user_id, topic) VALUES (777001, 0, 'idle')");
    await waitForQuota('the session to be closed', () => errors.length > 0);
    // An error outside a command: mysql2 reports its errno as `code`.
    expect(errors[0]).toMatchObject({ code: 4031, fatal: true });
    expect((errors[0] as Error).message).toMatch(/pool\.idleTransactionTimeoutMs/);
    const check = await fx.connect({ user: 'native', password: 'native-pw' });
    const [rows] = await check.query<RowDataPacket[]>(
      'SELECT count(*) AS n FROM trending_topics WHERE id = 777001',
    );
    expect(Number(rows[0]?.n)).toBe(0);
    // A session that keeps working inside its transaction is not closed.
    await check.query('BEGIN');
    for (let i = 0; i < 3; i++) await check.query('SELECT SLEEP(0.5)');
    await check.query('COMMIT');
    await check.end();
  });
});
