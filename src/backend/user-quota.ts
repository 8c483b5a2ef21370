// Server connections held per user, over every pool of one protocol in this process
// (PgBouncer's max_user_connections): one user's pins and idle transactions cannot take every
// server connection. Under the limit a take is synchronous; over it the session waits its turn
// (first come, first served) up to the pool's checkout timeout, then gets a coded error. Both
// front ends use it; PostgreSQL and MySQL servers are different connections, counted apart.
import type { ShardgateConfig } from '../config/schema.js';
import { ShardgateError } from '../errors.js';

interface Waiter {
  grant(): void;
  timer: NodeJS.Timeout;
}

interface UserCount {
  held: number;
  waiters: Waiter[];
}

export type QuotaProtocol = 'postgres' | 'mysql';

const counts = new Map<string, UserCount>();

const countKey = (protocol: QuotaProtocol, user: string) => `${protocol}\0${user}`;

/** The limit for `user` (0: none). */
export function userServerLimit(config: ShardgateConfig, user: string): number {
  const own = config.users.find((u) => u.name === user)?.maxServerConnections;
  return own ?? config.pool.maxServerConnectionsPerUser;
}

/** Takes one slot for `user`: null when granted at once, else a promise for the turn. */
export function takeServerSlot(
  config: ShardgateConfig,
  protocol: QuotaProtocol,
  user: string,
): Promise<void> | null {
  const max = userServerLimit(config, user);
  if (max === 0) return null;
  const key = countKey(protocol, user);
  let c = counts.get(key);
  if (!c) counts.set(key, (c = { held: 0, waiters: [] }));
  if (c.held < max) {
    c.held++;
    return null;
  }
  const ms = config.pool.checkoutTimeoutMs;
  const entry = c;
  return new Promise<void>((resolve, reject) => {
    const waiter: Waiter = {
      grant: () => {
        clearTimeout(waiter.timer);
        resolve();
      },
      timer: setTimeout(() => {
        const at = entry.waiters.indexOf(waiter);
        if (at >= 0) entry.waiters.splice(at, 1);
        reject(new ShardgateError('USER_SERVER_CONNECTION_LIMIT', { user, max, ms }));
      }, ms),
    };
    entry.waiters.push(waiter);
  });
}

/** Gives back a slot takeServerSlot counted (the connection went back to its pool or was dropped). */
export function giveServerSlot(protocol: QuotaProtocol, user: string): void {
  const key = countKey(protocol, user);
  const c = counts.get(key);
  if (!c) return;
  const next = c.waiters.shift();
  if (next) {
    next.grant(); // the slot passes to the next session as it is
    return;
  }
  c.held = Math.max(0, c.held - 1);
  if (c.held === 0) counts.delete(key);
}

/** Slots held now (for tests and metrics). */
export function serverSlotsHeld(protocol: QuotaProtocol, user: string): number {
  return counts.get(countKey(protocol, user))?.held ?? 0;
}
