// The migration state file has several writers at once: a verification (or cleanup, rollback)
// holds the copy it read when it began across long awaits, while the MySQL reverse captures'
// checkpoints save newer positions from fresh reads. A save writes back only what its writer
// changed: the verification's `verified` must not put back the reverse positions of its start.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type MigrationState, MigrationStore } from '../../src/migration/state-store.js';
import { switchedMigrationState } from '../support/switched-migration-state.js';

function switchedState(id: string): MigrationState {
  return switchedMigrationState(id, { protocol: 'mysql' } as never, {
    copy: null,
    appliedGtid: '0-1-100',
    reverseGtid: ['0-2-10', '0-3-10'],
  });
}

const store = () => new MigrationStore(path.join(mkdtempSync(path.join(os.tmpdir(), 'sg-state-')), 'm'));
const report = { rowsChecked: 7, chunksChecked: 1, mismatches: [], perTable: [] } as never;

describe('migration state store: concurrent writers', () => {
  it("a verification's stale copy keeps the reverse positions checkpointed while it ran", () => {
    const s = store();
    s.save(switchedState('m1'));
    // runVerify's copy, read when the verification began.
    const verifying = s.load('m1')!;
    verifying.phase = 'verifying';
    verifying.history.push({ at: 'now', phase: 'verifying', note: 'verifying' });
    s.save(verifying);
    // A reverse capture checkpoints from a fresh read meanwhile (mysql-reverse-capture.ts).
    const checkpoint = s.load('m1')!;
    checkpoint.mysql!.reverseGtid![1] = '0-3-55';
    s.save(checkpoint);
    // The verification ends and notes `verified` on its own copy.
    verifying.verify = report;
    verifying.phase = 'verified';
    verifying.status = 'verified 7 rows in 1 chunks';
    verifying.history.push({ at: 'now', phase: 'verified', note: 'verified' });
    s.save(verifying);

    const file = s.load('m1')!;
    expect(file.mysql!.reverseGtid).toEqual(['0-2-10', '0-3-55']);
    expect(file.phase).toBe('verified');
    expect(file.verify).toEqual(report);
    expect(file.history.map((h) => h.phase)).toEqual(['switched', 'verifying', 'verified']);
    // The writer's copy is brought up to date: a later save of it puts nothing older back.
    expect(verifying.mysql!.reverseGtid).toEqual(['0-2-10', '0-3-55']);
    verifying.status = 'cleanup: deleting the moved rows from the source';
    s.save(verifying);
    expect(s.load('m1')!.mysql!.reverseGtid).toEqual(['0-2-10', '0-3-55']);
  });

  it('merges the mysql part field by field, and both writers keep their own history entries', () => {
    const s = store();
    s.save(switchedState('m2'));
    const a = s.load('m2')!;
    const b = s.load('m2')!;
    b.mysql!.reverseGtid = ['0-2-90', '0-3-90'];
    b.history.push({ at: 'b', phase: 'switched', note: 'b' });
    s.save(b);
    // `a` changed another part of `mysql`: its part wins, the newer positions stay.
    a.mysql!.appliedGtid = '0-1-200';
    a.history.push({ at: 'a', phase: 'switched', note: 'a' });
    s.save(a);
    const file = s.load('m2')!;
    expect(file.mysql).toMatchObject({ appliedGtid: '0-1-200', reverseGtid: ['0-2-90', '0-3-90'] });
    expect(file.history.map((h) => h.note)).toEqual(['switched', 'b', 'a']);
  });

  it('keeps the references a run holds into its state attached while nobody else wrote there', () => {
    const s = store();
    const run = switchedState('m4');
    run.mysql!.sources = [{ copy: null, appliedGtid: null }];
    s.save(run);
    // The run's handle on its second source's checkpoints (mysql-sources.ts, mysqlLegs).
    const second = run.mysql!.sources![0]!;
    run.status = 'copying';
    s.save(run);
    second.appliedGtid = '0-4-7';
    s.save(run);
    expect(s.load('m4')!.mysql!.sources).toEqual([{ copy: null, appliedGtid: '0-4-7' }]);
    // Another writer's newer positions come in without detaching the run's handle.
    const checkpoint = s.load('m4')!;
    checkpoint.mysql!.reverseGtid = ['0-2-20', '0-3-20'];
    s.save(checkpoint);
    s.save(run);
    expect(run.mysql!.reverseGtid).toEqual(['0-2-20', '0-3-20']);
    second.appliedGtid = '0-4-8';
    s.save(run);
    expect(s.load('m4')!.mysql).toMatchObject({
      sources: [{ copy: null, appliedGtid: '0-4-8' }],
      reverseGtid: ['0-2-20', '0-3-20'],
    });
  });

  it("a writer's own change wins over the file's, also when it sets a field back", () => {
    const s = store();
    s.save(switchedState('m3'));
    const a = s.load('m3')!;
    const b = s.load('m3')!;
    b.error = 'the reverse capture stopped';
    s.save(b);
    a.phase = 'rolled_back';
    a.mysql!.reverseGtid = ['0-2-11', '0-3-11'];
    s.save(a);
    const file = s.load('m3')!;
    expect(file.phase).toBe('rolled_back');
    expect(file.mysql!.reverseGtid).toEqual(['0-2-11', '0-3-11']);
    expect(file.error).toBe('the reverse capture stopped');
    // Cleared by a writer that read it: the clearing is kept.
    const c = s.load('m3')!;
    c.error = null;
    s.save(c);
    expect(s.load('m3')!.error).toBeNull();
  });
});
