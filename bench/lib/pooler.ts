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

/** A pooler's executable, its Debian package and its product name (for an unknown version). */
export interface PoolerTool {
  command: string;
  pkg: string;
  product: string;
}

/** What the caller of a pooler's start says about installing it. */
export interface PoolerInstallOptions {
  say?: (line: string) => void;
  noInstall?: boolean;
}

export async function preparePooler(
  tool: PoolerTool,
  o: PoolerInstallOptions,
): Promise<PoolerSetup | { ok: false; note: string }> {
  const { command } = tool;
  const ensured = await ensureCommand({ command, pkg: tool.pkg, say: o.say, noInstall: o.noInstall });
  if (!ensured.ok) return { ok: false, note: ensured.note ?? `${command} is not available` };
  const versionText = (await toolVersion(command, ['--version'])) ?? `${tool.product} (unknown version)`;
  const owner = systemUser('postgres');
  if (process.getuid?.() === 0 && !owner)
    return { ok: false, note: `running as root and no "postgres" user to run ${command} as` };
  return { ok: true, versionText, owner, tmp: ownedTempDir(`bench-${command}-`, owner) };
}
