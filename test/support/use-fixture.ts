// A test file's proxy fixture, started before its first test and stopped after its last: the
// beforeAll/afterAll pair most integration files wrote out alike. The object returned is filled
// in by beforeAll, so the tests use it as they used the fixture.
import { afterAll, beforeAll } from 'vitest';
import {
  type MysqlFixtureOptions,
  type MysqlProxyFixture,
  startMysqlProxyFixture,
} from './mysql-proxy-fixture.js';
import { type FixtureOptions, type ProxyFixture, startProxyFixture } from './proxy-fixture.js';

export function useStarted<F extends { stop(): Promise<void> }>(
  start: () => Promise<F>,
  timeoutMs?: number,
): F {
  const fx = {} as F;
  let started = false;
  beforeAll(async () => {
    Object.assign(fx, await start());
    started = true;
  }, timeoutMs);
  afterAll(async () => {
    if (started) await fx.stop();
  });
  return fx;
}

/** The MySQL front end over launcher-started MariaDB servers, for the whole file. */
export function useMysqlProxyFixture(options: MysqlFixtureOptions, timeoutMs?: number): MysqlProxyFixture {
  return useStarted(() => startMysqlProxyFixture(options), timeoutMs);
}

/** The PostgreSQL front end over launcher-started PostgreSQL servers, for the whole file. */
export function useProxyFixture(options: FixtureOptions, timeoutMs?: number): ProxyFixture {
  return useStarted(() => startProxyFixture(options), timeoutMs);
}
