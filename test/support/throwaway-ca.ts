// A throwaway certificate authority for TLS tests, made with the openssl command: a CA, a server
// certificate it signs for 127.0.0.1 and localhost, and an unrelated second CA (a wrong one).
// The server's files are owned by the user its servers run as (they refuse a key others read).
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunAs } from '../../src/local/os-user.js';

export interface ThrowawayCa {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** A CA that did not sign the server's certificate. */
  otherCaCert: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

function selfSignedCa(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    ],
    dir,
  );
  return { cert, key };
}

/** `owner`: unprivilegedUser() for PostgreSQL, mariadbRunAs() for MariaDB (null when not root). */
export function makeThrowawayCa(owner: RunAs | null): ThrowawayCa {
  const dir = mkdtempSync(join(tmpdir(), 'shardgate-ca-'));
  const ca = selfSignedCa(dir, 'test-ca');
  const other = selfSignedCa(dir, 'other-ca');
  const serverKey = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const serverCert = join(dir, 'server.crt');
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, 'subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n');
  openssl(
    [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      serverKey,
      '-out',
      csr,
      '-subj',
      '/CN=localhost',
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-out',
      serverCert,
      '-days',
      '2',
      '-extfile',
      ext,
    ],
    dir,
  );
  chmodSync(dir, 0o755);
  for (const file of [serverCert, serverKey, ca.cert]) {
    if (owner) chownSync(file, owner.uid, owner.gid);
  }
  chmodSync(serverKey, 0o600);
  chmodSync(serverCert, 0o644);
  chmodSync(ca.cert, 0o644);
  chmodSync(other.cert, 0o644);
  return { dir, caCert: ca.cert, serverCert, serverKey, otherCaCert: other.cert };
}
