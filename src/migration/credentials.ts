// Backend passwords never enter a split plan, its state file or the admin API: a plan names the
// server and the user, and the password is looked up here, from the running config, when a
// connection is opened.
import { type BackendTls, resolveBackendTls } from '../backend/backend-tls.js';
import { serverNames } from '../backend/server-names.js';
import type { ShardgateConfig } from '../config/schema.js';

const passwords = new Map<string, string>();
/** MySQL backend users' passwords apart: the same user name may differ between the protocols. */
const mysqlPasswords = new Map<string, string>();
/** TLS settings per server name (backend.tls under each server's own tls), and the default. */
const tlsByServer = new Map<string, BackendTls>();
let defaultTls: BackendTls = { mode: 'disable' };

/** Called with every config the process runs (start, reload). */
export function rememberBackendCredentials(config: ShardgateConfig): void {
  passwords.set(config.backend.user, config.backend.password);
  mysqlPasswords.set(config.backend.mysqlUser, config.backend.mysqlPassword);
  tlsByServer.clear();
  defaultTls = resolveBackendTls(config.backend.tls, undefined);
  for (const shard of config.shards) {
    const names = serverNames(shard);
    tlsByServer.set(names.primary, resolveBackendTls(config.backend.tls, shard.primary.tls));
    for (const [i, replica] of shard.replicas.entries()) {
      tlsByServer.set(names.replicas[i]!, resolveBackendTls(config.backend.tls, replica.tls));
    }
  }
  for (const spare of config.migration.spares) {
    if (spare.name) tlsByServer.set(spare.name, resolveBackendTls(config.backend.tls, spare.tls));
    for (const r of spare.replicas)
      if (r.name) tlsByServer.set(r.name, resolveBackendTls(config.backend.tls, r.tls));
  }
}

/** TLS towards a PostgreSQL server of the config, by name (backend.tls for a name it lacks). */
export function backendTlsFor(serverName: string): BackendTls {
  return tlsByServer.get(serverName) ?? defaultTls;
}

/** The password configured for this backend user, or undefined (trust / none configured). */
export function backendPassword(user: string): string | undefined {
  const password = passwords.get(user);
  return password ? password : undefined;
}

/** The password configured for this MySQL backend user, or undefined (none configured). */
export function backendMysqlPassword(user: string): string | undefined {
  return mysqlPasswords.get(user) || undefined;
}
