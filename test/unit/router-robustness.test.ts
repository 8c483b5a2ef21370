// Arbitrary values, hints and positions never make the router throw: it answers with a plan
// (possibly an ErrorPlan) for anything a client can send.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { positionCovers } from '../../src/router/positions.js';
import { keyspaceIdFor } from '../../src/router/sharding/hash.js';
import { facts, insertPosts, keyEq, lit, plan, select } from '../support/router-facts.js';
import { routingSession } from '../support/topology-fixture.js';

const PLAN_TYPES = ['single', 'scatter', 'split-insert', 'local', 'error'];

describe('router robustness', () => {
  it('any key values, LIMIT values and hints give a plan', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string(), { minLength: 3, maxLength: 3 }),
        fc.record(
          {
            consistency: fc.string(),
            shard: fc.constantFrom('s0', 's1', 'nope'),
            role: fc.string(),
            vip: fc.string(),
            realtime: fc.constantFrom('on', 'off'),
            battery_saving: fc.string(),
          },
          { requiredKeys: [] },
        ),
        fc.boolean(),
        (literals, hints, inTransaction) => {
          const f = facts({
            tables: ['likes', 'posts'],
            keyConditions: [keyEq('likes', 'user_id', lit(0)), keyEq('posts', 'user_id', lit(1))],
            select: select({
              limit: lit(2),
              orderBy: [{ position: 1, name: 'id', desc: false, nullsFirst: false }],
            }),
          });
          const p = plan({ facts: f, literals, hints, session: routingSession({ inTransaction }) });
          expect(PLAN_TYPES).toContain(p.type);
          const insert = insertPosts([
            [lit(0), lit(1)],
            [lit(1), lit(2)],
          ]);
          expect(PLAN_TYPES).toContain(plan({ facts: insert, literals, hints }).type);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hashing and position comparison accept any text', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        keyspaceIdFor(a, 'int');
        keyspaceIdFor(a, 'text');
        expect(typeof positionCovers(a, b)).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });
});
