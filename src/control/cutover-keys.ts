// Keys of the fenced cutover under `<namespace>/` (docs/control-plane.md, "Fenced cutover"). Pure.
//   cutover/hold            the open or last decided hold (a HoldRecord), bound to the controller's lease
//   cutover/topology/<v>    the shared topology's switch v (a SwitchEntry); the highest v is the version
//   cutover/acks/<member>   a member's acknowledgement of a hold, bound to that member's lease
//   cutover/pruned          the switches pruned from cutover/topology/ (a PrunedRecord)
import type { SwitchEntry } from './control-plane.js';

export const CUTOVER_PREFIX = 'cutover/';
export const HOLD_KEY = 'cutover/hold';
export const TOPOLOGY_PREFIX = 'cutover/topology/';
export const ACKS_PREFIX = 'cutover/acks/';
export const PRUNED_KEY = 'cutover/pruned';

/**
 * What pruning removed: every switch below `below` is gone from `cutover/topology/`; `switched`
 * keeps each pruned migration's last kind, so an instance catching up can tell whether its own
 * topology has them all (it cannot replay them any more).
 */
export interface PrunedRecord {
  below: number;
  switched: Record<string, SwitchEntry['kind']>;
}

export interface HoldRecord {
  state: 'hold' | 'switch' | 'abort';
  migrationId: string;
  shards: string[];
  /** The shared topology version the hold was published at; a switch publishes version + 1. */
  version: number;
  controller: string;
  graceMs: number;
  deadlineMs: number;
  /** For `switch` and `abort`: the revision of the `hold` record they decide. */
  holdRevision?: string;
  entry?: SwitchEntry;
  reason?: string;
}

export function topologyKey(version: number): string {
  return `${TOPOLOGY_PREFIX}${String(version).padStart(10, '0')}`;
}

export function ackKey(member: string): string {
  return `${ACKS_PREFIX}${encodeURIComponent(member)}`;
}

export function memberFromAckKey(key: string): string | null {
  if (!key.startsWith(ACKS_PREFIX)) return null;
  try {
    return decodeURIComponent(key.slice(ACKS_PREFIX.length));
  } catch {
    return null;
  }
}

/** Parses a stored value; null for one this version cannot read (logged by the caller). */
export function parseJson<T>(text: string): T | null {
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}
