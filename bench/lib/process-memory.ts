// Resident memory of a process and its descendants (cluster workers) from /proc/<pid>/status:
// VmRSS (now) and VmHWM (the peak), in KiB. Linux only; null where /proc cannot tell.
import { readFileSync } from 'node:fs';
import { processTree } from './process-cpu.js';

export interface ProcessMemory {
  /** Summed over the process and its live descendants, KiB. */
  rssKb: number;
  hwmKb: number;
  processes: number;
}

/** VmRSS and VmHWM of one /proc/<pid>/status text, in KiB (null when either is missing). */
export function parseStatusMemory(status: string): { rssKb: number; hwmKb: number } | null {
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  if (rss === undefined || hwm === undefined) return null;
  return { rssKb: Number(rss), hwmKb: Number(hwm) };
}

export function processTreeMemory(pid: number | undefined): ProcessMemory | null {
  if (pid === undefined) return null;
  let rssKb = 0;
  let hwmKb = 0;
  let processes = 0;
  const tree = processTree(pid);
  if (tree.length === 0) return null;
  for (const p of tree) {
    let m: { rssKb: number; hwmKb: number } | null = null;
    try {
      m = parseStatusMemory(readFileSync(`/proc/${p}/status`, 'utf8'));
    } catch {
      // exited meanwhile
    }
    if (!m) {
      if (p === pid) return null;
      continue;
    }
    rssKb += m.rssKb;
    hwmKb += m.hwmKb;
    processes++;
  }
  return { rssKb, hwmKb, processes };
}
