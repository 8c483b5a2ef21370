// The local servers' processes as /proc shows them (Linux): a postmaster's descendants, and
// freezing a server (SIGSTOP) so it accepts connections but never answers, a hung host. kill(2) returns before the stop has happened: Linux stops a
// multi-threaded process (mariadbd) only once the thread picked to take the signal runs, and until
// then its other threads go on serving statements (seen under CPU load: a query sent after the
// SIGSTOP was answered). So the freeze waits until /proc shows every thread stopped.
import { readdirSync, readFileSync } from 'node:fs';

/** Thread states of a process from /proc (R, S, D, T, ...); empty when it is gone. */
export function threadStates(pid: number): string[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const states: string[] = [];
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // "tid (comm) state ...": comm may hold spaces and parentheses; the state follows the last ')'.
      states.push(stat.charAt(stat.lastIndexOf(')') + 2));
    } catch {
      // The thread exited in between.
    }
  }
  return states;
}

/** Stopped by a signal, or exiting: it will not answer anything any more. */
const STILL = new Set(['T', 'Z', 'X']);

/** Whether every thread of every process is stopped (processes gone count as stopped). */
export function allStopped(pids: readonly number[]): boolean {
  return pids.every((pid) => threadStates(pid).every((s) => STILL.has(s)));
}

/**
 * SIGSTOP to each process, then waits until every thread of each is stopped (polling /proc; a
 * thread in uninterruptible I/O stops when the I/O ends). Throws after `timeoutMs`.
 */
export async function freezeProcesses(pids: readonly number[], timeoutMs = 10_000): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGSTOP');
    } catch {
      // Exited in between.
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (!allStopped(pids)) {
    if (Date.now() > deadline) {
      const running = pids.map((pid) => `${pid}: ${threadStates(pid).join('')}`).join(', ');
      throw new Error(`SIGSTOP sent, but not every thread stopped within ${timeoutMs} ms (${running})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Processes whose parent chain leads to `root` (from /proc; Linux). */
export function descendantPids(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces; fields resume after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // Gone.
    }
  }
  const out: number[] = [];
  const wanted = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parentOf) {
      if (wanted.has(ppid) && !wanted.has(pid)) {
        wanted.add(pid);
        out.push(pid);
        grew = true;
      }
    }
  }
  return out;
}
