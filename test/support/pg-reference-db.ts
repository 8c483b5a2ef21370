// An unsharded "reference" database beside a proxy fixture, holding the demo schema and the same
// rows the fixture's shards hold: differential tests compare the proxy's answers against it.
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { DEMO_TOPICS, demoRows, demoSchemaSql } from '../../src/local/demo-schema.js';
import { superuserClient, withSuperuser } from '../../src/local/pg-superuser.js';
import { type ProxyFixture, startProxyFixture } from './proxy-fixture.js';

/** Creates database `reference` on the fixture's first primary, loads it and returns a client. */
export async function startReferenceDatabase(fx: ProxyFixture, users = 50): Promise<pg.Client> {
  const primary = fx.cluster.shards[0]!.primary;
  await withSuperuser(primary, (admin) => admin.query('CREATE DATABASE reference'), 'postgres');
  const reference = await superuserClient(primary, 'reference');
  await reference.query(demoSchemaSql());
  for (const r of demoRows(users)) {
    const cols = ['id', 'user_id', ...Object.keys(r.extra)];
    const vals = [r.id, r.userId, ...Object.values(r.extra)];
    await reference.query(
      `INSERT INTO ${r.table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
      vals,
    );
  }
  await reference.query(
    `INSERT INTO trending_topics (id, user_id, topic, score) VALUES ${DEMO_TOPICS.map((t, i) => `(${i + 1}, 0, '${t}', ${(DEMO_TOPICS.length - i) * 10})`).join(', ')}`,
  );
  return reference;
}

export interface ReferencePair {
  fx: ProxyFixture;
  /** The unsharded reference database. */
  reference: pg.Client;
  /** A client through the proxy. */
  proxied: pg.Client;
}

/**
 * Registers beforeAll/afterAll for a differential test file: a proxy fixture of `shards` shards
 * without replicas, its reference database and a client through the proxy, filled in before the
 * tests run.
 */
export function useReferencePair(shards: number, setupTimeoutMs = 120_000): ReferencePair {
  const pair = {} as ReferencePair;
  beforeAll(async () => {
    pair.fx = await startProxyFixture({ shards, replicas: 0 });
    pair.reference = await startReferenceDatabase(pair.fx);
    pair.proxied = await pair.fx.client();
  }, setupTimeoutMs);
  afterAll(async () => {
    await pair.reference?.end();
    await pair.fx?.stop();
  });
  return pair;
}
