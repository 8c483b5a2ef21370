// What the cutover-gate suites of both front ends (pg-cutover-gate, mysql-cutover-gate) share: a
// block of shard s0 at the proxy's gate that ends when the test lets it, the switch it records,
// a session with a write on s0 in flight, and a statement's outcome settled without throwing (the
// 40001 the clients get is checked).
import type { CutoverOptions, CutoverReport } from '../../src/migration/cutover-gate.js';
import type { ProxyHandle } from '../../src/proxy.js';

/** A statement's outcome: its value, or the driver's error (pg: code; mysql2: errno, sqlState). */
export const settle = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: { code?: string; errno?: number; sqlState?: string }) => ({ ok: false as const, error }),
  );

/** A promise the test resolves when it chooses: `open()` resolves `opened`. */
export function latch(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { opened, open };
}

/**
 * Blocks s0 at `proxy`'s cutover gate. Its catch-up lasts until `until` resolves (nothing to wait
 * for by default); `onSwitch` runs at the switch, which changes no topology here.
 */
export function blockS0(
  proxy: ProxyHandle,
  options: Omit<CutoverOptions, 'abandoned'>,
  until: () => Promise<void> = async () => {},
  onSwitch: () => void = () => {},
): Promise<CutoverReport> {
  return proxy.cutover.block(['s0'], options, { catchUp: until, switchTopology: onSwitch });
}

/** A block of s0 the test ends, and the order in which things happened meanwhile. */
export interface HeldS0 {
  report: Promise<CutoverReport>;
  /** 'switch' at the switch, among what the test logs. */
  events: string[];
  /** Logs `what` once `p` settles well. */
  logWhenDone(p: Promise<unknown>, what: string): Promise<void>;
  /** Lets the block's catch-up end (50 ms later, for held statements to reach the gate). */
  release(): void;
}

export function holdS0(proxy: ProxyHandle, options: Omit<CutoverOptions, 'abandoned'>): HeldS0 {
  const events: string[] = [];
  const released = latch();
  const report = blockS0(
    proxy,
    options,
    () => released.opened.then(() => new Promise<void>((r) => setTimeout(r, 50))),
    () => events.push('switch'),
  );
  return {
    report,
    events,
    logWhenDone: (p, what) =>
      p.then(() => {
        events.push(what);
      }),
    release: released.open,
  };
}

/** What the suites need of a driver's connection: a statement with parameters. */
interface Session {
  query(sql: string, values: unknown[]): Promise<unknown>;
}

/**
 * `c` inside a transaction on s0 that inserted like `id` of `user` (a user of s0) and has not
 * committed; `insertLike` is the protocol's INSERT INTO likes (id, user_id) of two parameters.
 */
export async function writingOnS0<C extends Session>(
  c: C,
  insertLike: string,
  id: number,
  user: number,
): Promise<C> {
  await c.query('BEGIN', []);
  await c.query(insertLike, [id, user]);
  return c;
}
