// What the cutover-gate suites of both front ends (pg-cutover-gate, mysql-cutover-gate) share: a
// block of shard s0 at the proxy's gate that ends when the test lets it, the switch it records,
// and a statement's outcome settled without throwing (the 40001 the clients get is checked).
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
