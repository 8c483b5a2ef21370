// A live-migration test file's proxy fixture (startMigrationFixture) for the whole file, with the
// tables its tests move created through the proxy before the first test.
import type pg from 'pg';
import { adminUrl, type MigrationFixtureOptions, startMigrationFixture } from './migration-helpers.js';
import type { ProxyFixture } from './proxy-fixture.js';
import { useStarted } from './use-fixture.js';

export interface MigrationFileOptions extends MigrationFixtureOptions {
  /** How long starting (and seeding) may take: 180 s by default. */
  startMs?: number;
}

export interface MigrationFileFixture extends ProxyFixture {
  /** The base URL of the admin API (see adminUrl). */
  api(): string;
}

/**
 * The fixture of `options`, started before the file's first test and stopped after its last;
 * `seed`, when given, runs first on a client of the proxy.
 */
export function useMigrationFixture(
  options: MigrationFileOptions,
  seed?: (c: pg.Client) => Promise<void>,
): MigrationFileFixture {
  const { startMs = 180_000, ...fixture } = options;
  return useStarted(async () => {
    const fx = await startMigrationFixture(fixture);
    try {
      if (seed) await seed(await fx.client());
    } catch (err) {
      await fx.stop();
      throw err;
    }
    return { ...fx, api: () => adminUrl(fx) };
  }, startMs);
}
