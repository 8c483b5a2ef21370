// Summing a V8 .cpuprofile (node --cpu-prof) by function and by category of work: what the
// profile scripts print (profile-pgbench.ts, profile-sysbench.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Which part of the work a function belongs to, from its name and file. */
function category(name: string, url: string): string {
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'program (V8/native, unattributed)';
  if (/writev|writeBuffer|writeGeneric|doWrite|_write|writeOrBuffer/.test(name)) return 'socket writes';
  if (/onStreamRead|readableAddChunk|emitReadable|onread/.test(name)) return 'socket reads';
  if (url.includes('/src/sql/') || url.includes('libpg-query') || url.includes('node-sql-parser'))
    return 'SQL analysis';
  if (url.includes('/src/router/')) return 'routing';
  if (url.includes('/src/protocol/')) return 'protocol (framing, session)';
  if (url.includes('/src/backend/')) return 'pools and bindings';
  if (url.includes('/src/observability/')) return 'metrics and statistics';
  if (url.includes('pg-protocol')) return 'pg-protocol';
  if (url.startsWith('node:')) return 'node internals';
  if (url === '') return 'native';
  return 'other JavaScript';
}

/** Prints the self time of the profile written in `dir` by category and its `top` functions. */
export function printCpuProfile(dir: string, root: string, top: number): void {
  const name = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!name) throw new Error(`no .cpuprofile written in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries())
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byCategory = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const file = frame.url.replace(/^file:\/\//, '').replace(root, '.');
    const key = `${frame.functionName || '(anonymous)'} ${file ? `${file}:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const c = category(frame.functionName, frame.url);
    byCategory.set(c, (byCategory.get(c) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
  console.log('\nself time by category (share of all samples, idle included):');
  for (const [c, us] of [...byCategory].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(us)}  ${c}`);
  console.log(`\ntop ${top} functions by self time:`);
  for (const [f, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`  ${pct(us)}  ${f}`);
  console.log(`\nprofile: ${join(dir, name)} (open in Chrome DevTools, Performance tab)`);
}
