// Which statements may make a transaction span shards (transactions.crossShard, the data type's
// crossShard, SET shardgate.cross_shard): planner decisions, pure.
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../src/router/plan.js';
import { facts, keyEq, lit, plan } from '../support/router-facts.js';
import { demoConfig, demoTopology, routingSession } from '../support/topology-fixture.js';

// user_id 1 lives on s1, 2 on s0 (see router-planner.test.ts).
const ON_S1 = '1';
const ON_S0 = '2';

const updatePosts = () =>
  facts({
    kind: 'write',
    tables: ['posts'],
    writeTables: ['posts'],
    keyConditions: [keyEq('posts', 'user_id', lit(0))],
  });

/** A transaction that runs on s0 (and, with `spanning`, on s1 too). */
const inTransaction = (extra: Record<string, unknown> = {}, spanning = false) =>
  routingSession({
    inTransaction: true,
    transactionShard: 's0',
    transactionServer: 's0-primary',
    crossShardTransactions: true,
    ...(spanning
      ? {
          transactionServers: new Map([
            ['s0', 's0-primary'],
            ['s1', 's1-primary'],
          ]),
        }
      : {}),
    ...extra,
  });

/** The demo topology with user_posts set to crossShard: refuse. */
function refusingPosts() {
  const dataTypes = demoConfig().dataTypes;
  return demoTopology({
    dataTypes: { ...dataTypes, user_posts: { ...dataTypes.user_posts!, crossShard: 'refuse' } },
  });
}

function code(p: Plan): string {
  return p.type === 'error' ? p.code : p.type;
}

describe('crossShard', () => {
  it('two_phase (the default): a one-shard statement joins another shard', () => {
    expect(code(plan({ facts: updatePosts(), literals: [ON_S1], session: inTransaction() }))).toBe('single');
  });

  it('transactions.crossShard: refuse (the session is not allowed to span): CROSS_SHARD_TRANSACTION', () => {
    const session = inTransaction({ crossShardTransactions: false });
    expect(code(plan({ facts: updatePosts(), literals: [ON_S1], session }))).toBe('CROSS_SHARD_TRANSACTION');
  });

  it('a data type with crossShard: refuse may not join another shard, and says what to do', () => {
    const p = plan({
      facts: updatePosts(),
      literals: [ON_S1],
      session: inTransaction(),
      topology: refusingPosts(),
    });
    expect(p).toMatchObject({
      type: 'error',
      code: 'CROSS_SHARD_REFUSED',
      params: { refusedBy: 'data type user_posts', shards: 's0, s1' },
    });
    // On the transaction's own shard it runs as usual.
    const same = plan({
      facts: updatePosts(),
      literals: [ON_S0],
      session: inTransaction(),
      topology: refusingPosts(),
    });
    expect(code(same)).toBe('single');
  });

  it('nor be touched by a transaction that already spans shards, even on a shard it holds', () => {
    const p = plan({
      facts: updatePosts(),
      literals: [ON_S0],
      session: inTransaction({}, true),
      topology: refusingPosts(),
    });
    expect(code(p)).toBe('CROSS_SHARD_REFUSED');
  });

  it('a refusing data type touched earlier in the transaction keeps it on one shard', () => {
    const session = inTransaction({ crossShardRefusedBy: 'data type user_account' });
    const p = plan({ facts: updatePosts(), literals: [ON_S1], session });
    expect(p).toMatchObject({ code: 'CROSS_SHARD_REFUSED', params: { refusedBy: 'data type user_account' } });
  });

  it('a session may refuse (SET shardgate.cross_shard = refuse), never allow more', () => {
    const session = inTransaction({ context: { crossShardRefused: true } });
    const p = plan({ facts: updatePosts(), literals: [ON_S1], session });
    expect(p).toMatchObject({ code: 'CROSS_SHARD_REFUSED' });
    expect(p.type === 'error' && String(p.params.refusedBy)).toContain('shardgate.cross_shard');
  });
});
