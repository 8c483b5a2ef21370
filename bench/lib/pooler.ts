// What starting a comparison pooler (PgBouncer, pgpool-II) begins with: the tool installed (or
// why not), its version line, the "postgres" system user it runs as when we are root (both refuse
// root), and a temp dir that user owns.
import { ensureCommand } from './apt.js';
import { toolVersion } from './machine.js';
import { ownedTempDir, type SystemUser, systemUser } from './proc.js';
import type { PgTarget } from './target.js';

export type StartResult = { ok: true; target: PgTarget } | { ok: false; note: string };

export interface PoolerSetup {
  ok: true;
  /** The tool's --version line, or "<product> (unknown version)". */
  versionText: string;
  owner: SystemUser | null;
  tmp: { dir: string; remove: () => void };
}

export async function preparePooler(o: {
  command: string;
  pkg: string;
  /** The product's name where its version cannot be read. */
  product: string;
  say?: (line: string) => void;
  noInstall?: boolean;
}): Promise<PoolerSetup | { ok: false; note: string }> {
  const ensured = await ensureCommand({ command: o.command, pkg: o.pkg, say: o.say, noInstall: o.noInstall });
  if (!ensured.ok) return { ok: false, note: ensured.note ?? `${o.command} is not available` };
  const versionText = (await toolVersion(o.command, ['--version'])) ?? `${o.product} (unknown version)`;
  const owner = systemUser('postgres');
  if (process.getuid?.() === 0 && !owner)
    return { ok: false, note: `running as root and no "postgres" user to run ${o.command} as` };
  return { ok: true, versionText, owner, tmp: ownedTempDir(`bench-${o.command}-`, owner) };
}
