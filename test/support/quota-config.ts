// The quota tests' proxy settings, the same for both front ends: one shard without replicas, where
// `app` may hold at most two server connections of a pool of six, a checkout waits one second, and
// a session idle inside a transaction is closed after 1.5 s; and how long the tests wait for a
// quota to act.
import { waitFor } from './wait-for.js';

/** The fixture options of a quota test file, for the front end whose test users are `users`. */
export function quotaFixtureOptions<U extends { name: string }>(users: readonly U[]) {
  return {
    shards: 1,
    replicas: 0,
    overrides: {
      users: users.map((u) => (u.name === 'app' ? { ...u, maxServerConnections: 2 } : u)),
      pool: { size: 6, checkoutTimeoutMs: 1_000, idleTransactionTimeoutMs: 1_500 },
    },
  };
}

/** The quota tests wait up to 20 s, polling every 20 ms. */
export const waitForQuota = (what: string, check: () => boolean | Promise<boolean>) =>
  waitFor(what, check, 20_000, 20);
