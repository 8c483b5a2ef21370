// Quotas: one user cannot hold every server connection (pins and idle transactions), and a
// session idle inside a transaction is closed (its transaction rolled back), PgBouncer-like.
import type pg from 'pg';
import { expect } from 'vitest';
import { serverSlotsHeld } from '../../src/backend/user-quota.js';
import { TEST_USERS } from '../support/proxy-fixture.js';
import { quotaFixtureOptions } from '../support/quota-config.js';
import { describeQuotas, type QuotaSide } from '../support/quota-scenarios.js';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture(quotaFixtureOptions(TEST_USERS), 180_000);

const side: QuotaSide<pg.Client> = {
  connect: (as) => (as === 'app' ? fx.client() : fx.client({ user: 'md5user', password: 'secret5' })),
  // Session advisory locks pin a server connection to each session.
  pin: (c, n) => c.query(`SELECT pg_advisory_lock(${100 + n})`),
  value: async (c, sql) => Number(Object.values((await c.query(sql)).rows[0])[0]),
  slotsHeld: () => serverSlotsHeld('postgres', 'app'),
  overLimit: { code: '53300' },
  expectIdleClosed: (err) => expect(err).toMatchObject({ code: '25P03' }),
  sql: {
    insertIdle: "INSERT INTO trending_topics (id, topic) VALUES (777001, 'idle')",
    countIdle: 'SELECT count(*)::int AS n FROM trending_topics WHERE id = 777001',
    sleep: 'SELECT pg_sleep(0.5)',
  },
};

describeQuotas(side, { front: 'PostgreSQL', overLimit: '53300', idleClosed: '25P03' });
