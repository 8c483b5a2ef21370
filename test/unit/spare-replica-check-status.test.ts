// The spare-replica check against servers of every version and against one that does not answer:
// which replication-status statement a server is asked (MySQL 8.4 has no SHOW SLAVE STATUS), and
// the coded refusal, naming the target and what to do, when the spare itself is unreachable.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  replicaStatusStatements,
  SHOW_REPLICA_STATUS,
  SHOW_SLAVE_STATUS,
} from '../../src/backend/mysql-replica-status.js';
import { parseConfig } from '../../src/config/load.js';
import { checkSpareReplicas } from '../../src/migration/spare-replicas.js';
import { expectCodedRejection } from '../support/coded-rejection.js';

describe('the replication-status statement by server version', () => {
  it('asks SHOW REPLICA STATUS from MariaDB 10.5.1 and MySQL 8.0.22 on, the old form as fallback', () => {
    for (const v of ['10.5.1-MariaDB', '10.11.6-MariaDB-log', '5.5.5-10.6.12-MariaDB', '11.4.2-MariaDB'])
      expect(replicaStatusStatements(v), v).toEqual([SHOW_REPLICA_STATUS, SHOW_SLAVE_STATUS]);
    for (const v of ['8.0.22', '8.0.36-28', '8.4.0', '9.1.0-commercial'])
      expect(replicaStatusStatements(v), v).toEqual([SHOW_REPLICA_STATUS, SHOW_SLAVE_STATUS]);
  });

  it('asks only SHOW SLAVE STATUS of older servers, which cannot parse the REPLICA form', () => {
    for (const v of ['10.5.0-MariaDB', '10.4.32-MariaDB', '5.5.5-10.3.39-MariaDB', '8.0.21', '5.7.44-log'])
      expect(replicaStatusStatements(v), v).toEqual([SHOW_SLAVE_STATUS]);
  });

  it('tries the REPLICA form first, then the SLAVE form, when the version says nothing usable', () => {
    expect(replicaStatusStatements('')).toEqual([SHOW_REPLICA_STATUS, SHOW_SLAVE_STATUS]);
    expect(replicaStatusStatements('unknown-fork')).toEqual([SHOW_REPLICA_STATUS, SHOW_SLAVE_STATUS]);
  });
});

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('a spare that does not answer', () => {
  it.each(['mysql', 'postgres'] as const)(
    'is refused as MIGRATION_INVALID naming it (%s)',
    async (protocol) => {
      const port = await closedPort();
      const config = parseConfig({
        users: [{ name: 'app', password: 'app' }],
        shards: [{ name: 's0', primary: { host: '127.0.0.1', port: 6001 } }],
        migration: {
          spares: [
            { name: 'spare1', host: '127.0.0.1', port, replicas: [{ host: '127.0.0.1', port: 6099 }] },
          ],
        },
      });
      const target = { name: 'spare1', host: '127.0.0.1', port, user: 'u', database: 'd' };
      await expectCodedRejection(
        checkSpareReplicas(config, [{ server: target }], protocol),
        'MIGRATION_INVALID',
        new RegExp(
          `target spare1 \\(127\\.0\\.0\\.1:${port}\\) does not answer, so its replicas cannot be checked .*start it, fix its address under migration\\.spares, or choose another spare`,
        ),
      );
    },
  );
});
