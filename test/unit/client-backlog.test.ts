import { describe, expect, it } from 'vitest';
import { type BacklogOwner, ClientBacklog } from '../../src/protocol/client-backlog.js';
import { deferred } from '../support/deferred.js';

/** A backlog of strings (one byte a character) over a fake client whose runs finish when told. */
function fixture(maxBytes = 10) {
  const events: string[] = [];
  /** The owner's calls around each run. */
  const hooks: string[] = [];
  const runs: Array<{ item: string; done: () => void }> = [];
  let drained: (() => void) | null = null;
  const client = {
    needsDrain: false,
    onDrained: (resume: () => void) => {
      drained = resume;
    },
    pauseReading: () => events.push('pause'),
    resumeReading: () => events.push('resume'),
  };
  const owner: BacklogOwner<string> & { clientLeft: boolean } = {
    clientLeft: false,
    startingQueued: (item) => hooks.push(`start ${item}`),
    ranQueued: () => hooks.push('ran'),
    runQueued: (item) => {
      events.push(`run ${item}`);
      const d = deferred();
      runs.push({ item, done: d.resolve });
      return d.promise;
    },
    backlogIdle: () => events.push('idle'),
  };
  const backlog = new ClientBacklog<string>(
    client,
    owner,
    () => maxBytes,
    (s) => s.length,
  );
  const finishNext = async () => {
    runs.shift()!.done();
    await new Promise((r) => setImmediate(r));
  };
  return { backlog, events, hooks, client, owner, finishNext, drain: () => drained?.() };
}

describe('ClientBacklog', () => {
  it('runs items one at a time, in order, then reports idle', async () => {
    const { backlog, events, hooks, finishNext } = fixture();
    backlog.add('a');
    backlog.add('b');
    backlog.start();
    backlog.start();
    expect(hooks).toEqual(['start a']);
    expect(events).toEqual(['run a']);
    expect(backlog.busy).toBe(true);
    await finishNext();
    expect(events).toEqual(['run a', 'run b']);
    await finishNext();
    expect(events).toEqual(['run a', 'run b', 'idle']);
    expect(hooks).toEqual(['start a', 'ran', 'start b', 'ran']);
    expect(backlog.busy).toBe(false);
  });

  it('stops reading past the limit and reads again once half has run', async () => {
    const { backlog, events, finishNext } = fixture(10);
    backlog.add('xxxx');
    backlog.start();
    backlog.add('yyyy');
    backlog.add('zzzz');
    expect(backlog.pauseIfOverLimit()).toBe('under');
    expect(events).toEqual(['run xxxx']);
    backlog.add('wwww');
    expect(backlog.pauseIfOverLimit()).toBe('paused');
    expect(events).toEqual(['run xxxx', 'pause']);
    expect(backlog.paused).toBe(true);
    // 8 bytes left once xxxx's run ends and yyyy is taken: still above half of 10.
    await finishNext();
    expect(events).toEqual(['run xxxx', 'pause', 'run yyyy']);
    await finishNext();
    // 4 bytes left (wwww) once zzzz is taken: under half, so reading resumes.
    expect(events).toEqual(['run xxxx', 'pause', 'run yyyy', 'resume', 'run zzzz']);
    expect(backlog.paused).toBe(false);
  });

  it('tells when bytes past the limit form no item yet (a batch that never ends)', () => {
    const { backlog, events } = fixture(10);
    backlog.received(11);
    expect(backlog.pauseIfOverLimit()).toBe('stuck');
    expect(events).toEqual([]);
  });

  it('waits for the client to read before running the next item', async () => {
    const { backlog, events, client, finishNext, drain } = fixture();
    backlog.add('a');
    backlog.add('b');
    backlog.start();
    client.needsDrain = true;
    await finishNext();
    expect(events).toEqual(['run a']);
    client.needsDrain = false;
    drain();
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['run a', 'run b']);
  });

  it('runs nothing more once the client left', async () => {
    const { backlog, events, owner, finishNext } = fixture();
    backlog.add('a');
    backlog.add('b');
    backlog.start();
    owner.clientLeft = true;
    await finishNext();
    expect(events).toEqual(['run a', 'idle']);
    expect(backlog.length).toBe(1);
  });
});
