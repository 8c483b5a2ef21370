// A launcher's cluster (src/local) for a whole test file: started before its first test, stopped
// after its last. useStarted (use-fixture.ts) copies the started object's own properties, which
// would lose a cluster's methods (they live on its class), so the tests reach it through a proxy.
import { afterAll, beforeAll } from 'vitest';

/** What `start` returns, started before the file's first test and stopped after its last. */
export function useLocalCluster<C extends { stop(): Promise<void> }>(start: () => Promise<C>): C {
  let started: C | undefined;
  beforeAll(async () => {
    started = await start();
  });
  afterAll(async () => {
    await started?.stop();
  });
  return new Proxy({} as C, {
    get(_target, key) {
      if (!started) throw new Error('the local cluster is used before beforeAll started it');
      const value: unknown = Reflect.get(started, key, started);
      return typeof value === 'function' ? value.bind(started) : value;
    },
  });
}
