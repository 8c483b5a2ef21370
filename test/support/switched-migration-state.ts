// A migration state file as the switch leaves it: one leg, nothing copying, no reverse capture
// yet. Unit tests of the state store and of restarts start from this record and change the part
// they are about.
import { type MigrationState, notRunYet } from '../../src/migration/state-store.js';

export function switchedMigrationState(
  id: string,
  plan: MigrationState['plan'],
  mysql?: MigrationState['mysql'],
): MigrationState {
  return {
    id,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    phase: 'switched',
    status: 'switched',
    plan,
    legs: [{ slot: null, copy: [] }],
    ...notRunYet(),
    ...(mysql === undefined ? {} : { mysql }),
    error: null,
    history: [{ at: '2026-01-01T00:00:00.000Z', phase: 'switched', note: 'switched' }],
  };
}
