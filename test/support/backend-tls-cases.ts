// The backend TLS suites of both front ends (pg-backend-tls, mysql-backend-tls) check the same modes
// against a launcher-started server with a throwaway CA's certificate; what differs per protocol
// (how a session tells it runs over TLS, the protocol code of a refusal) is a `BackendTlsSide`.
import { expect, it } from 'vitest';
import { type BackendTls, resolveBackendTls } from '../../src/backend/backend-tls.js';
import type { ServerLogin } from '../../src/backend/server-address.js';
import type { ShardgateError } from '../../src/errors.js';
import type { ThrowawayCa } from './throwaway-ca.js';

export interface BackendTlsSide {
  ca: ThrowawayCa;
  /** What a session opened with `tls` reports about its own TLS. */
  sessionTls(tls: BackendTls): Promise<string | undefined>;
  /** That report for an encrypted session, then for a plain one. */
  expectEncrypted(report: string | undefined): void;
  expectPlain(report: string | undefined): void;
  /** The error a connection attempt with `tls` is refused with. */
  refusal(tls: BackendTls): Promise<ShardgateError>;
  /** The protocol's code on a TLS refusal (SQLSTATE 08006, MySQL errno 2026). */
  expectProtocolCode(err: ShardgateError): void;
}

/** The login of a launcher-started primary as a backend connection of the proxy makes it. */
export function primaryLogin(
  server: { name: string; host: string; port: number },
  shard: string,
  user: string,
  tls: BackendTls,
): ServerLogin {
  return {
    name: server.name,
    shard,
    role: 'primary',
    host: server.host,
    port: server.port,
    database: 'shardgate',
    user,
    password: '',
    tls,
  };
}

/** The cases both protocols share; `side` is read when a case runs (after beforeAll). */
export function backendTlsModeCases(side: () => BackendTlsSide): void {
  it('require encrypts without checking; verify-ca checks the CA, not the name; disable is plain', async () => {
    const s = side();
    s.expectEncrypted(await s.sessionTls({ mode: 'require' }));
    const caPem = resolveBackendTls({ mode: 'verify-ca', ca: s.ca.caCert }, undefined);
    s.expectEncrypted(await s.sessionTls({ ...caPem, serverName: 'db.elsewhere.example' }));
    s.expectPlain(await s.sessionTls({ mode: 'disable' }));
  });

  it('verify-full refuses a certificate for another name', async () => {
    const s = side();
    const tls = resolveBackendTls(
      { mode: 'verify-full', ca: s.ca.caCert, serverName: 'db.elsewhere.example' },
      undefined,
    );
    const err = await s.refusal(tls);
    expect(err.code).toBe('BACKEND_TLS_REFUSED');
    s.expectProtocolCode(err);
    expect(err.message).toMatch(/db\.elsewhere\.example/);
  });

  it('verify-ca and verify-full refuse a certificate another CA signed', async () => {
    const s = side();
    for (const mode of ['verify-ca', 'verify-full'] as const) {
      const err = await s.refusal(resolveBackendTls({ mode, ca: s.ca.otherCaCert }, undefined));
      expect(err.code).toBe('BACKEND_TLS_REFUSED');
      expect(err.message).toMatch(/certificate/i);
    }
  });
}
