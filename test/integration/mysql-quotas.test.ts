// Quotas on the MySQL front end, the same mechanism and config as PostgreSQL's: one user cannot
// hold every server connection (pins, transactions), and a session idle inside a transaction is
// closed with its transaction rolled back.
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { expect } from 'vitest';
import { serverSlotsHeld } from '../../src/backend/user-quota.js';
import { MYSQL_TEST_USERS } from '../support/mysql-proxy-fixture.js';
import { quotaFixtureOptions } from '../support/quota-config.js';
import { describeQuotas, type QuotaSide } from '../support/quota-scenarios.js';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const fx = useMysqlProxyFixture({ ...quotaFixtureOptions(MYSQL_TEST_USERS), demoUsers: 5 }, 180_000);

const side: QuotaSide<mysql.Connection> = {
  connect: (as) => (as === 'app' ? fx.connect() : fx.connect({ user: 'native', password: 'native-pw' })),
  // GET_LOCK pins a server connection to each session.
  pin: (c, n) => c.query(`SELECT GET_LOCK('quota-${n}', 0)`),
  value: async (c, sql) => Number(Object.values((await c.query<RowDataPacket[]>(sql))[0][0]!)[0]),
  slotsHeld: () => serverSlotsHeld('mysql', 'app'),
  overLimit: { errno: 1203 },
  expectIdleClosed: (err) => {
    // An error outside a command: mysql2 reports its errno as `code`.
    expect(err).toMatchObject({ code: 4031, fatal: true });
    expect(err.message).toMatch(/pool\.idleTransactionTimeoutMs/);
  },
  sql: {
    insertIdle: "INSERT INTO trending_topics (id, user_id, topic) VALUES (777001, 0, 'idle')",
    countIdle: 'SELECT count(*) AS n FROM trending_topics WHERE id = 777001',
    sleep: 'SELECT SLEEP(0.5)',
  },
};

describeQuotas(side, { front: 'MySQL', overLimit: '1203', idleClosed: 'errno 4031' });
