// The address fields every backend server has, whatever its protocol: where the topology puts it
// and how the proxy logs in to it. The per-protocol connections add their own fields.
import type { BackendTls } from './backend-tls.js';

/** A server's place in the topology and where it listens. */
export interface ServerPlace {
  /** Server name from the topology, e.g. "s0-primary". */
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  host: string;
  port: number;
  database: string;
}

/** A server and the login the proxy uses on it. */
export interface ServerLogin extends ServerPlace {
  user: string;
  password: string;
  /** Answer a cleartext password request (config backend.allowCleartextPassword). */
  allowCleartextPassword?: boolean;
  /** TLS to the server (config backend.tls / mysqlTls, a server's tls); absent or mode disable: plain. */
  tls?: BackendTls;
}
