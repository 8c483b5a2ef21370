// Tests that expect an operation to fail with a coded ShardgateError check the same three things:
// it is a ShardgateError, its code, and what its message says.
import { expect } from 'vitest';
import { type ErrorCode, ShardgateError } from '../../src/errors.js';

/**
 * Awaits `operation`, expects it to be rejected with a ShardgateError of `code` whose message
 * matches `message` (a fulfilment fails the test), and returns that error.
 */
export async function expectCodedRejection(
  operation: Promise<unknown>,
  code: ErrorCode,
  message: RegExp,
): Promise<ShardgateError> {
  const err = await operation.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ShardgateError);
  expect((err as ShardgateError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
  return err as ShardgateError;
}
