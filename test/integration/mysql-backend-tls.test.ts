// TLS from shardgate to MariaDB servers (issue 11, item 12): a launcher-started server with a
// certificate from a throwaway CA. verify-full carries every session over TLS; a wrong CA or a
// wrong server name is refused with BACKEND_TLS_REFUSED (MySQL errno 2026).
import { describe, expect, it } from 'vitest';
import type { BackendTls } from '../../src/backend/backend-tls.js';
import { type MysqlServerAddress, MysqlServerConnection } from '../../src/backend/mysql-server-connection.js';
import { mariadbRunAs } from '../../src/local/mariadb-binaries.js';
import { refusalOf } from '../support/backend-refusal.js';
import { type BackendTlsSide, backendTlsModeCases, primaryLogin } from '../support/backend-tls-cases.js';
import { makeThrowawayCa } from '../support/throwaway-ca.js';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const ca = makeThrowawayCa(mariadbRunAs());
const fx = useMysqlProxyFixture({
  shards: 1,
  replicas: 0,
  demoUsers: 5,
  serverSettings: { 'ssl-cert': ca.serverCert, 'ssl-key': ca.serverKey, 'ssl-ca': ca.caCert },
  overrides: { backend: { mysqlTls: { mode: 'verify-full', ca: ca.caCert } } },
});

function address(tls: BackendTls): MysqlServerAddress {
  const shard = fx.cluster.shards[0]!;
  return primaryLogin(shard.primary, shard.name, 'root', tls);
}

async function cipherOfSession(tls: BackendTls): Promise<string> {
  const conn = await MysqlServerConnection.connect(address(tls), { foundRows: false, timeoutMs: 5_000 });
  try {
    const r = await conn.exec("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    return String(r.results[0]?.rows[0]?.[1] ?? '');
  } finally {
    conn.terminate();
  }
}

const side = (): BackendTlsSide => ({
  ca,
  sessionTls: cipherOfSession,
  expectEncrypted: (cipher) => expect(cipher).not.toBe(''),
  expectPlain: (cipher) => expect(cipher).toBe(''),
  refusal: (tls) =>
    refusalOf(() => MysqlServerConnection.connect(address(tls), { foundRows: false, timeoutMs: 5_000 })),
  expectProtocolCode: (err) => expect(err.mysqlErrno).toBe(2026),
});

describe('TLS to MariaDB servers', () => {
  it('verify-full: the sessions the proxy opens run over TLS', async () => {
    const c = await fx.connect();
    const [rows] = await c.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    const cipher = (rows as Array<{ Value: string }>)[0]?.Value ?? '';
    expect(cipher).not.toBe('');
    const [users] = await c.query('SELECT count(*) AS n FROM users');
    expect(Number((users as Array<{ n: number }>)[0]?.n)).toBeGreaterThan(0);
  });

  backendTlsModeCases(side);
});
