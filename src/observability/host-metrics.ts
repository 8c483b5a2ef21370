// CPU, memory and disk use of a database host, in percent. Sources: this machine's /proc and
// statfs (when the server runs here), a node_exporter's /metrics page, or none. A figure that
// cannot be known is null, never a guess: the first CPU reading needs two samples, a missing
// metric or an unreachable exporter yields null.
import { readFile, statfs } from 'node:fs/promises';

export interface HostFigures {
  cpuPercent: number | null;
  memoryPercent: number | null;
  diskPercent: number | null;
  source: 'local' | 'node_exporter' | 'none';
  /** Why some figure is unknown (last failure), for the API. */
  error: string | null;
}

/** Figures from `source` with none known yet (a sample fills in what it can read). */
function unknownFigures(source: HostFigures['source']): HostFigures {
  return { cpuPercent: null, memoryPercent: null, diskPercent: null, source, error: null };
}

export interface HostSampler {
  sample(): Promise<HostFigures>;
}

const clampPercent = (v: number): number => Math.min(100, Math.max(0, v));

// ---- /proc -------------------------------------------------------------------------------------

/** Busy and total jiffies from the aggregate "cpu" line of /proc/stat; null if absent. */
export function parseProcStat(text: string): { busy: number; total: number } | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) return null;
  // user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user already.
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const idleAll = idle + iowait;
  const total = user + nice + system + idleAll + irq + softirq + steal;
  return { busy: total - idleAll, total };
}

/** Used memory percent = 100 x (1 - MemAvailable / MemTotal); null if either is missing. */
export function parseMeminfo(text: string): number | null {
  const get = (key: string): number | null => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };
  const total = get('MemTotal');
  const available = get('MemAvailable');
  if (total === null || available === null || total <= 0) return null;
  return clampPercent(100 * (1 - available / total));
}

/** Disk use like df: used / (used + available to unprivileged users). */
export async function diskPercent(path: string): Promise<number> {
  const s = await statfs(path);
  const used = s.blocks - s.bfree;
  const denom = used + s.bavail;
  return denom > 0 ? clampPercent((100 * used) / denom) : 0;
}

/** This machine. `dataDir` is the database server's data directory (for disk use). */
export class LocalHostSampler implements HostSampler {
  private last: { busy: number; total: number } | null = null;

  constructor(private readonly dataDir: string | null = null) {}

  async sample(): Promise<HostFigures> {
    const out = unknownFigures('local');
    try {
      const now = parseProcStat(await readFile('/proc/stat', 'utf8'));
      if (now && this.last && now.total > this.last.total) {
        out.cpuPercent = clampPercent((100 * (now.busy - this.last.busy)) / (now.total - this.last.total));
      }
      if (now) this.last = now;
      out.memoryPercent = parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
      if (this.dataDir) out.diskPercent = await diskPercent(this.dataDir);
    } catch (err) {
      out.error = (err as Error).message;
    }
    return out;
  }
}

// ---- node_exporter ------------------------------------------------------------------------------

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;

/** Prometheus text exposition format (0.0.4) samples; comments and malformed lines are skipped. */
export function parsePrometheusText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_RE.exec(line);
    if (!m) continue;
    const value = parsePromNumber(m[4]!);
    if (value === null) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const l of m[3].matchAll(LABEL_RE)) {
        labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
    }
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

function parsePromNumber(text: string): number | null {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const v = Number(text);
  return Number.isNaN(v) ? null : v;
}

export interface NodeExporterFigures {
  /** Busy and total CPU seconds summed over all CPUs (for deltas); null if absent. */
  cpu: { busy: number; total: number } | null;
  memoryPercent: number | null;
  diskPercent: number | null;
}

/** Extracts the host figures from a node_exporter page; `mountpoint` picks the filesystem. */
export function nodeExporterFigures(samples: readonly PromSample[], mountpoint = '/'): NodeExporterFigures {
  let busy = 0;
  let total = 0;
  let cpuSeen = false;
  let memTotal: number | null = null;
  let memAvailable: number | null = null;
  let fsSize: number | null = null;
  let fsAvail: number | null = null;
  for (const s of samples) {
    if (s.name === 'node_cpu_seconds_total') {
      if (!Number.isFinite(s.value)) continue;
      cpuSeen = true;
      total += s.value;
      if (s.labels.mode !== 'idle' && s.labels.mode !== 'iowait') busy += s.value;
    } else if (s.name === 'node_memory_MemTotal_bytes') memTotal = s.value;
    else if (s.name === 'node_memory_MemAvailable_bytes') memAvailable = s.value;
    else if (s.labels.mountpoint === mountpoint) {
      if (s.name === 'node_filesystem_size_bytes') fsSize = s.value;
      else if (s.name === 'node_filesystem_avail_bytes') fsAvail = s.value;
    }
  }
  return {
    cpu: cpuSeen ? { busy, total } : null,
    memoryPercent:
      memTotal !== null && memAvailable !== null && memTotal > 0
        ? clampPercent(100 * (1 - memAvailable / memTotal))
        : null,
    diskPercent:
      fsSize !== null && fsAvail !== null && fsSize > 0 ? clampPercent(100 * (1 - fsAvail / fsSize)) : null,
  };
}

/** Scrapes a node_exporter URL; CPU percent comes from the delta between two scrapes. */
export class NodeExporterSampler implements HostSampler {
  private last: { busy: number; total: number } | null = null;

  constructor(
    private readonly url: string,
    private readonly options: { mountpoint?: string; timeoutMs?: number } = {},
  ) {}

  async sample(): Promise<HostFigures> {
    const out = unknownFigures('node_exporter');
    try {
      const res = await fetch(this.url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 2_000) });
      if (!res.ok) throw new Error(`node_exporter answered HTTP ${res.status}`);
      const figures = nodeExporterFigures(
        parsePrometheusText(await res.text()),
        this.options.mountpoint ?? '/',
      );
      if (figures.cpu && this.last && figures.cpu.total > this.last.total) {
        out.cpuPercent = clampPercent(
          (100 * (figures.cpu.busy - this.last.busy)) / (figures.cpu.total - this.last.total),
        );
      }
      if (figures.cpu) this.last = figures.cpu;
      out.memoryPercent = figures.memoryPercent;
      out.diskPercent = figures.diskPercent;
    } catch (err) {
      out.error = (err as Error).message;
    }
    return out;
  }
}

/** No source configured: every figure unknown. */
export class NoHostSampler implements HostSampler {
  async sample(): Promise<HostFigures> {
    return unknownFigures('none');
  }
}

/**
 * The sampler for a server's `hostMetrics` setting: "local", a node_exporter URL, or none
 * (also when unset). `dataDir` is the server's data directory when it is known (local disk use).
 */
export function createHostSampler(setting: string | undefined, dataDir: string | null = null): HostSampler {
  if (setting === 'local') return new LocalHostSampler(dataDir);
  if (setting && /^https?:\/\//.test(setting)) return new NodeExporterSampler(setting);
  return new NoHostSampler();
}
