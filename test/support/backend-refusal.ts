// The backend TLS tests of both protocols expect a connection attempt to be refused with a coded
// ShardgateError (BACKEND_TLS_REFUSED); a connection that succeeds fails the test.
import { expect } from 'vitest';
import { ShardgateError } from '../../src/errors.js';

/** The error `connect` is refused with; a connection it opens is closed and fails the test. */
export async function refusalOf(connect: () => Promise<{ terminate(): void }>): Promise<ShardgateError> {
  const err = await connect().then(
    (conn) => {
      conn.terminate();
      throw new Error('connected, expected a refusal');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ShardgateError);
  return err as ShardgateError;
}
