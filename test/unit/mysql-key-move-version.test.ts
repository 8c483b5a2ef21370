// A shard-key move needs DELETE ... RETURNING (MariaDB 10.5 and later) on the servers it moves
// rows off: refused with 0A000 / errno 1235, from the version the server's handshake announced.
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { deleteReturningRefusal } from '../../src/protocol/mysql/key-move-runner.js';

const refusal = (version: string) => deleteReturningRefusal(version, 'users', 's0');

describe('key-move server version check', () => {
  it('MariaDB 10.5 and later move (with and without the 5.5.5- prefix of MariaDB 10.x)', () => {
    for (const v of [
      '5.5.5-10.5.0-MariaDB',
      '5.5.5-10.11.6-MariaDB-log',
      '10.6.16-MariaDB',
      '11.4.2-MariaDB',
    ])
      expect(refusal(v)).toBeNull();
  });

  it('MariaDB before 10.5 is refused with 1235, naming the version needed and the one found', () => {
    for (const v of ['5.5.5-10.4.32-MariaDB', '5.5.5-10.3.39-MariaDB-log', '5.5.68-MariaDB']) {
      const err = refusal(v);
      expect(err).toBeInstanceOf(ShardgateError);
      expect(err!.code).toBe('FEATURE_NOT_SUPPORTED');
      expect(err!.mysqlErrno).toBe(1235);
      expect(err!.message).toContain('from 10.5 on');
      expect(err!.message).toContain(v.replace(/^5\.5\.5-/, ''));
    }
  });

  it('MySQL (no DELETE ... RETURNING at all) and an unknown version are refused', () => {
    expect(refusal('8.0.36')?.message).toContain('not MariaDB 8.0.36');
    expect(refusal('')?.message).toContain('version unknown');
  });
});
