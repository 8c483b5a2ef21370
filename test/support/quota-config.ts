// The quota tests' proxy settings, the same for both front ends: `app` may hold at most two server
// connections of a pool of six, a checkout waits one second, and a session idle inside a
// transaction is closed after 1.5 s.
export function quotaOverrides<U extends { name: string }>(users: readonly U[]) {
  return {
    users: users.map((u) => (u.name === 'app' ? { ...u, maxServerConnections: 2 } : u)),
    pool: { size: 6, checkoutTimeoutMs: 1_000, idleTransactionTimeoutMs: 1_500 },
  };
}
