// Freezing a local server (the fault tests' hung host): freezeProcesses resolves only once every
// thread is stopped, which kill(2) alone does not promise for a multi-threaded process (mariadbd
// answered a statement sent after its SIGSTOP: issue 14's session-pooling flake).
import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import {
  allStopped,
  descendantPids,
  freezeProcesses,
  threadStates,
} from '../../src/local/server-processes.js';
import { waitFor } from '../support/wait-for.js';

const started: ChildProcess[] = [];

afterEach(() => {
  for (const child of started.splice(0)) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
});

/**
 * A process with three worker threads busy on the CPU, like a server answering. It says "ready" once
 * every worker runs (a freeze before that would find only the main thread and the runtime's own).
 */
async function busyThreads(): Promise<number> {
  const script = [
    "const { Worker } = require('node:worker_threads');",
    'let online = 0;',
    "for (let i = 0; i < 3; i++) new Worker('for (;;) {}', { eval: true }).on('online', () => { if (++online === 3) process.stdout.write('ready\\n'); });",
    'setInterval(() => {}, 1000);',
  ].join(' ');
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`busy process exited (${code}) before its workers ran`)));
  });
  return child.pid!;
}

it('resolves once every thread of the process is stopped, and SIGCONT resumes them', async () => {
  const pid = await busyThreads();
  await freezeProcesses([pid]);
  const states = threadStates(pid);
  expect(states.length).toBeGreaterThan(3);
  expect(states.every((s) => s === 'T')).toBe(true);
  process.kill(pid, 'SIGCONT');
  await waitFor('running again', () => !allStopped([pid]));
});

it('counts a process that is gone as stopped', async () => {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((resolve) => child.once('exit', resolve));
  expect(threadStates(pid)).toEqual([]);
  await freezeProcesses([pid]);
});

it("finds a process's descendants", async () => {
  const child = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore' });
  started.push(child);
  await waitFor('the grandchild started', () => descendantPids(child.pid!).length > 0);
  const [sleeper] = descendantPids(child.pid!);
  expect(threadStates(sleeper!)).toHaveLength(1);
  process.kill(sleeper!, 'SIGKILL');
});
