import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { requireSentAlone } from '../../src/protocol/sent-alone.js';

describe('requireSentAlone', () => {
  it('lets a statement sent alone through', () => {
    expect(() => requireSentAlone(['SELECT 1'], 'a multi-shard statement', 'message')).not.toThrow();
  });

  it.each([
    ['message', 'a cross-shard join must be sent alone, not with other statements in one message'],
    ['query', 'a cross-shard join must be sent alone, not with other statements in one query'],
  ] as const)('refuses a batch with SCATTER_UNSUPPORTED, naming the %s', (batch, detail) => {
    let thrown: unknown;
    try {
      requireSentAlone(['SELECT 1', 'SELECT 2'], 'a cross-shard join', batch);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ShardgateError);
    expect((thrown as ShardgateError).code).toBe('SCATTER_UNSUPPORTED');
    expect((thrown as ShardgateError).params).toEqual({ detail });
  });
});
