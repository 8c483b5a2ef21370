// CPU time of a process and its descendants (cluster workers) from /proc, for "CPU per
// transaction" figures next to TPS, and the tree itself (memory figures read it too). Linux only;
// null where /proc cannot tell.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;

interface Stat {
  ppid: number;
  ticks: number;
}

function readStat(pid: number): Stat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): ppid is the 2nd, utime and stime the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

/** `pid` and every live descendant (empty when `pid` is gone). */
export function processTree(pid: number): number[] {
  return [...treeStats(pid).keys()];
}

function treeStats(pid: number): Map<number, Stat> {
  const root = readStat(pid);
  if (!root) return new Map();
  const stats = new Map<number, Stat>();
  for (const entry of readdirSync('/proc')) {
    const child = Number(entry);
    if (!Number.isInteger(child) || child === pid) continue;
    const s = readStat(child);
    if (s) stats.set(child, s);
  }
  const tree = new Map([[pid, root]]);
  // Descendants in any order: grow the set until no process joins it.
  for (let grew = true; grew; ) {
    grew = false;
    for (const [child, s] of stats) {
      if (tree.has(child) || !tree.has(s.ppid)) continue;
      tree.set(child, s);
      grew = true;
    }
  }
  return tree;
}

/** CPU (user + system) used so far by `pid` and every live descendant, in ms. */
export function processTreeCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  const tree = treeStats(pid);
  if (tree.size === 0) return null;
  let ticks = 0;
  for (const s of tree.values()) ticks += s.ticks;
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}
