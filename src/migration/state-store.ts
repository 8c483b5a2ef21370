// One JSON file per migration in migration.stateDir, written atomically (temp file + rename) so
// a crash at any moment leaves either the previous or the next state, never half of one. The
// file is the migration's memory: `migrate resume` and a restarted proxy start from it.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writePrivateFile } from '../private-files.js';
import type { CutoverReport } from './cutover-gate.js';
import type { MysqlCopyState } from './mysql-copier.js';
import type { SplitPlan } from './plan.js';
import { keepNewerFields } from './state-merge.js';
import type { TableCopyState, VerifyReport } from './types.js';

type Fields = Record<string, unknown>;

export type Phase =
  | 'planned'
  | 'schema'
  | 'copying'
  | 'catching_up'
  | 'blocking'
  | 'switched'
  | 'verifying'
  | 'verified'
  | 'cleaned'
  | 'rolled_back'
  | 'aborted';

/** Phases after which the topology names the targets instead of the source. */
export const SWITCHED_PHASES: ReadonlySet<Phase> = new Set(['switched', 'verifying', 'verified', 'cleaned']);
export const TERMINAL_PHASES: ReadonlySet<Phase> = new Set(['cleaned', 'rolled_back', 'aborted']);

export type SlotState = { name: string; publication: string; consistentLsn: string };

/** What one source of a migration has done: its slot and its copy (a merge has two sources). */
export interface LegState {
  slot: SlotState | null;
  copy: TableCopyState[];
}

export interface MigrationState {
  id: string;
  createdAt: string;
  updatedAt: string;
  phase: Phase;
  /** One human line: what it is doing or waiting for ("paused: target s0b unreachable ..."). */
  status: string;
  plan: SplitPlan;
  /** Per source (planSources order), the truth; `slot` and `copy` below summarize it for views. */
  legs?: LegState[];
  /** The first source's slot. */
  slot: SlotState | null;
  /** Every source's copy states, for progress. */
  copy: TableCopyState[];
  capture: { appliedLsn: string | null; lagBytes: number | null; lagSeconds: number | null };
  cutovers: CutoverReport[];
  /** Positions of the targets at the switch (read-your-writes translation), and of the source at rollback. */
  switchPositions: Record<string, string> | null;
  reverse: { slots: string[]; publication: string } | null;
  verify: VerifyReport | null;
  /**
   * A MySQL split's checkpoints: the copy's cursors and first snapshot's GTID position (null
   * until the copy's first snapshot), and the GTID position up to which the binlog capture has
   * applied every change to the halves (null before the capture ran). A merge's second source
   * keeps its own in `sources` (mysql-sources.ts). `reverseGtid`: per half, the GTID position up
   * to which its reverse capture has applied its changes to the source (the half's position
   * inside the switch block to begin with).
   */
  mysql?: {
    copy: MysqlCopyState | null;
    appliedGtid: string | null;
    sources?: Array<{ copy: MysqlCopyState | null; appliedGtid: string | null }>;
    reverseGtid?: string[];
  };
  error: string | null;
  history: Array<{ at: string; phase: Phase; note: string }>;
}

/** What a migration's run records, as it stands before the run has done anything. */
export function notRunYet(): Pick<
  MigrationState,
  'slot' | 'copy' | 'capture' | 'cutovers' | 'switchPositions' | 'reverse' | 'verify'
> {
  return {
    slot: null,
    copy: [],
    capture: { appliedLsn: null, lagBytes: null, lagSeconds: null },
    cutovers: [],
    switchPositions: null,
    reverse: null,
    verify: null,
  };
}

export class MigrationStore {
  /** What each state object held when it was last read from or written to its file (JSON). */
  private readonly bases = new WeakMap<MigrationState, string>();

  constructor(readonly dir: string) {}

  private file(id: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error(`invalid migration id "${id}"`);
    return path.join(this.dir, `${id}.json`);
  }

  /**
   * Writes `state`, keeping every field another writer saved since this object was read and
   * this one did not change (state-merge.ts); `state` itself is brought up to date with them.
   */
  save(state: MigrationState): void {
    const base = this.bases.get(state);
    const current = base === undefined ? null : this.read(state.id);
    if (base !== undefined && current)
      keepNewerFields(state as unknown as Fields, JSON.parse(base) as Fields, current as unknown as Fields);
    if (state.legs) {
      state.slot = state.legs[0]?.slot ?? null;
      state.copy = state.legs.flatMap((l) => l.copy);
    }
    state.updatedAt = new Date().toISOString();
    const text = JSON.stringify(state, null, 2);
    // 0600 in a 0700 directory: the file names servers and users (never passwords).
    writePrivateFile(this.file(state.id), `${text}\n`);
    this.bases.set(state, text);
  }

  load(id: string): MigrationState | null {
    const state = this.read(id);
    if (state) this.bases.set(state, JSON.stringify(state));
    return state;
  }

  private read(id: string): MigrationState | null {
    try {
      return withLegs(withoutPasswords(JSON.parse(readFileSync(this.file(id), 'utf8')) as MigrationState));
    } catch {
      return null;
    }
  }

  list(): MigrationState[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const out: MigrationState[] = [];
    for (const n of names) {
      const s = this.load(n.slice(0, -'.json'.length));
      if (s) out.push(s);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }
}

/** State files of older versions carried the backend password in the plan: never use or show it. */
function withoutPasswords(state: MigrationState): MigrationState {
  const servers = [state.plan?.source, ...(state.plan?.targets ?? []).map((t) => t.server)];
  for (const server of servers)
    if (server && 'password' in server) delete (server as { password?: unknown }).password;
  return state;
}

/** State files of a single source before merges kept its slot and copy at the top. */
function withLegs(state: MigrationState): MigrationState {
  if (!state.legs) state.legs = [{ slot: state.slot, copy: state.copy }];
  return state;
}
