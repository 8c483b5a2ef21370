// Test-only crash points of cross-shard commits (two-phase and compensate mode):
// SHARDGATE_FAILPOINT=<name> makes the process kill itself with SIGKILL when it reaches that
// point (no cleanup, no flush: a real crash). Read once at start; unset in production, where a
// check costs one comparison.
const armed = process.env.SHARDGATE_FAILPOINT ?? '';

export type Failpoint =
  | 'twopc-after-prepare'
  | 'twopc-after-decision'
  | 'twopc-after-first-commit'
  | 'compensate-after-first-commit';

export function hitFailpoint(name: Failpoint): void {
  if (armed === name) process.kill(process.pid, 'SIGKILL');
}
