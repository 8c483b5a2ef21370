// TLS from shardgate to a backend server, with libpq's modes: disable (plain), require (encrypted,
// certificate not checked), verify-ca (the certificate chains to the configured CA), verify-full
// (verify-ca and the certificate names the server). Both protocols upgrade an already open socket
// after their own TLS request (PostgreSQL SSLRequest, MySQL SSL capability packet).
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { isIP } from 'node:net';
import tls from 'node:tls';

export const BACKEND_TLS_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type BackendTlsMode = (typeof BACKEND_TLS_MODES)[number];

/** What a server connection needs to open TLS; `ca` holds PEM text, not a path. */
export interface BackendTls {
  mode: BackendTlsMode;
  ca?: string;
  /** The CA file itself, for libpq tools (pg_dump) that read it by path. */
  caFile?: string;
  /** The name the certificate must carry under verify-full (default: the server's host). */
  serverName?: string;
}

/** The config's form (a CA file path), as backend.tls / backend.mysqlTls / a server's tls. */
export interface BackendTlsConfig {
  mode?: BackendTlsMode;
  ca?: string;
  serverName?: string;
}

/**
 * A server's own tls settings over the backend-wide ones, with the CA file read now (config load
 * or reload), so a missing file is reported then and never on a client's connection.
 */
export function resolveBackendTls(
  backendWide: BackendTlsConfig | undefined,
  perServer: BackendTlsConfig | undefined,
): BackendTls {
  const mode = perServer?.mode ?? backendWide?.mode ?? 'disable';
  const caPath = perServer?.ca ?? backendWide?.ca;
  const serverName = perServer?.serverName ?? backendWide?.serverName;
  let ca: string | undefined;
  if (caPath && mode !== 'disable') {
    try {
      ca = readFileSync(caPath, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the backend TLS CA file ${caPath}: ${(err as Error).message}`);
    }
  }
  return { mode, ...(ca ? { ca, caFile: caPath } : {}), ...(serverName ? { serverName } : {}) };
}

/** Thrown for every TLS failure so callers can report it with its own error code. */
export class BackendTlsError extends Error {
  override name = 'BackendTlsError';
}

/**
 * Wraps `socket` in TLS and resolves once the handshake and the checks of `config.mode` passed.
 * The plain socket must not be read by anyone else from now on.
 */
export function upgradeToTls(socket: net.Socket, config: BackendTls, host: string): Promise<tls.TLSSocket> {
  const verify = config.mode === 'verify-ca' || config.mode === 'verify-full';
  if (verify && !config.ca)
    return Promise.reject(
      new BackendTlsError(`tls mode ${config.mode} needs a CA file (ca) to check the server's certificate`),
    );
  const expectedName = config.serverName ?? host;
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      // SNI carries names only (RFC 6066); the identity check below covers IP addresses too.
      ...(isIP(expectedName) ? {} : { servername: expectedName }),
      ...(config.ca ? { ca: config.ca } : {}),
      rejectUnauthorized: verify,
      checkServerIdentity: (_name, cert) =>
        config.mode === 'verify-full' ? tls.checkServerIdentity(expectedName, cert) : undefined,
    });
    const fail = (err: Error) => {
      secure.destroy();
      reject(new BackendTlsError(err.message));
    };
    secure.once('error', fail);
    secure.once('secureConnect', () => {
      secure.off('error', fail);
      resolve(secure);
    });
  });
}

/** Equal settings: a reload that changes a server's TLS replaces its pool (the address is fixed). */
export function sameTls(a: BackendTls | undefined, b: BackendTls | undefined): boolean {
  return (
    (a?.mode ?? 'disable') === (b?.mode ?? 'disable') && a?.ca === b?.ca && a?.serverName === b?.serverName
  );
}

/** node-postgres's `ssl` option for the same checks (migration data plane); false: plain. */
export function pgClientSsl(config: BackendTls | undefined, host: string): false | tls.ConnectionOptions {
  if (!config || config.mode === 'disable') return false;
  const verify = config.mode === 'verify-ca' || config.mode === 'verify-full';
  const expectedName = config.serverName ?? host;
  return {
    ...(config.ca ? { ca: config.ca } : {}),
    ...(isIP(expectedName) ? {} : { servername: expectedName }),
    rejectUnauthorized: verify,
    checkServerIdentity: (_name, cert) =>
      config.mode === 'verify-full' ? tls.checkServerIdentity(expectedName, cert) : undefined,
  };
}

/**
 * libpq's environment for the same checks (pg_dump), and the host to name: with a serverName,
 * libpq connects to `host` as hostaddr and checks the certificate against the name.
 */
export function libpqTls(
  config: BackendTls | undefined,
  host: string,
): { env: Record<string, string>; host: string } {
  if (!config || config.mode === 'disable') return { env: { PGSSLMODE: 'disable' }, host };
  const env: Record<string, string> = { PGSSLMODE: config.mode };
  if (config.caFile) env.PGSSLROOTCERT = config.caFile;
  if (!config.serverName) return { env, host };
  env.PGHOSTADDR = host;
  return { env, host: config.serverName };
}
