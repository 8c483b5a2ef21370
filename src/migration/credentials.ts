// Backend passwords never enter a split plan, its state file or the admin API: a plan names the
// server and the user, and the password is looked up here, from the running config, when a
// connection is opened.
import type { ShardgateConfig } from '../config/schema.js';

const passwords = new Map<string, string>();

/** Called with every config the process runs (start, reload). */
export function rememberBackendCredentials(config: ShardgateConfig): void {
  passwords.set(config.backend.user, config.backend.password);
}

/** The password configured for this backend user, or undefined (trust / none configured). */
export function backendPassword(user: string): string | undefined {
  const password = passwords.get(user);
  return password ? password : undefined;
}
