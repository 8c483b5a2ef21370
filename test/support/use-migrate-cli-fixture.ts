// The migrate CLI fixture (a `shardgate start` process over its own cluster) for a whole test
// file: started before its first test, stopped after its last, filled in by beforeAll.
import {
  type MigrateCliFixture,
  type MigrateCliOptions,
  startMigrateCliFixture,
} from './migrate-cli-fixture.js';
import { useStarted } from './use-fixture.js';

export function useMigrateCliFixture(options: MigrateCliOptions, timeoutMs = 180_000): MigrateCliFixture {
  return useStarted(() => startMigrateCliFixture(options), timeoutMs);
}
