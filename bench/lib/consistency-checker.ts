// The consistency checker: given every write the benchmark made (the version it committed and
// when it was sent and acknowledged) and every read (the version it saw and when it was sent and
// answered), it classifies each read. Pure: no I/O, no clock; times are any monotonic milliseconds.
//
// Versions are per key and ordered: the workload has the database assign them (UPDATE ... SET
// v = v + 1 RETURNING v), so a higher version was committed later. A read is judged against:
//
//   global staleness  it returned a version older than the newest write ACKNOWLEDGED BEFORE THE
//                     READ STARTED (by any session). That write was committed before the read was
//                     even sent, so a linearizable store must show it. Writes still in flight when
//                     the read started (acknowledged after it) may or may not be seen: either
//                     answer is correct, and a read overlapping a write is never stale because of it.
//   RYW violation     it returned a version older than the same session's own last write to the
//                     key acknowledged before the read started. Every RYW violation is also stale;
//                     a stale read that only missed other sessions' writes is not a RYW violation.
//   future            it returned a version whose write was sent after the read had finished:
//                     impossible in any consistency model, so it flags a broken harness or store.
//   unknown           it returned a version no recorded write produced (e.g. a write whose
//                     acknowledgement was lost): not judged, only counted.
//
// `null` as a read's version means the row was absent: older than every write, the seed included.

export interface WriteEvent {
  session: string;
  key: string;
  /** The version this write committed. */
  version: number;
  /** When the write was sent and when its acknowledgement arrived. */
  startMs: number;
  ackMs: number;
}

export interface ReadEvent {
  session: string;
  key: string;
  /** The version the read returned; null when the row was not there. */
  version: number | null;
  startMs: number;
  endMs: number;
}

export interface ReadVerdict {
  stale: boolean;
  rywViolation: boolean;
  future: boolean;
  unknown: boolean;
  /** Newest version acknowledged (by anyone) before the read started; null when none. */
  requiredVersion: number | null;
  /** The session's own newest acknowledged version before the read started; null when none. */
  ownRequiredVersion: number | null;
  /** Acknowledged-before-start writes newer than what the read returned. */
  versionsBehind: number;
  /** How long before the read the oldest write it missed had been acknowledged (stale reads only). */
  stalenessMs: number | null;
}

export interface CheckSummary {
  reads: number;
  writes: number;
  stale: number;
  rywViolations: number;
  future: number;
  unknown: number;
  /** stale / judged reads (reads minus unknown); NaN with no judged reads. */
  staleRate: number;
  /** stalenessMs of every stale read, ascending. */
  stalenessMs: number[];
}

interface KeyHistory {
  /** Writes of the key in acknowledgement order. */
  byAck: WriteEvent[];
  /** prefixMax[i]: highest version among byAck[0..i]. */
  prefixMax: number[];
  /** version -> write, for future/unknown checks. */
  byVersion: Map<number, WriteEvent>;
  /** session -> that session's writes of the key in acknowledgement order, with prefix maxima. */
  bySession: Map<string, { byAck: WriteEvent[]; prefixMax: number[] }>;
}

function prefixMaxima(writes: readonly WriteEvent[]): number[] {
  const out: number[] = [];
  let best = Number.NEGATIVE_INFINITY;
  for (const w of writes) {
    best = Math.max(best, w.version);
    out.push(best);
  }
  return out;
}

/** Number of writes acknowledged strictly before `t` (byAck is sorted by ackMs). */
function ackedBefore(byAck: readonly WriteEvent[], t: number): number {
  let lo = 0;
  let hi = byAck.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((byAck[mid] as WriteEvent).ackMs < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const byAckTime = (a: WriteEvent, b: WriteEvent) => a.ackMs - b.ackMs || a.version - b.version;

/** An index over a write history, for judging many reads against it. */
export class ConsistencyChecker {
  private readonly keys = new Map<string, KeyHistory>();

  constructor(writes: readonly WriteEvent[]) {
    const grouped = new Map<string, WriteEvent[]>();
    for (const w of writes) {
      let list = grouped.get(w.key);
      if (!list) grouped.set(w.key, (list = []));
      list.push(w);
    }
    for (const [key, list] of grouped) {
      const byAck = [...list].sort(byAckTime);
      const bySession = new Map<string, { byAck: WriteEvent[]; prefixMax: number[] }>();
      for (const w of byAck) {
        let s = bySession.get(w.session);
        if (!s) bySession.set(w.session, (s = { byAck: [], prefixMax: [] }));
        s.byAck.push(w);
      }
      for (const s of bySession.values()) s.prefixMax = prefixMaxima(s.byAck);
      const byVersion = new Map<number, WriteEvent>();
      for (const w of byAck) byVersion.set(w.version, w);
      this.keys.set(key, { byAck, prefixMax: prefixMaxima(byAck), byVersion, bySession });
    }
  }

  judge(read: ReadEvent): ReadVerdict {
    const history = this.keys.get(read.key);
    const verdict: ReadVerdict = {
      stale: false,
      rywViolation: false,
      future: false,
      unknown: false,
      requiredVersion: null,
      ownRequiredVersion: null,
      versionsBehind: 0,
      stalenessMs: null,
    };
    if (read.version !== null) {
      const source = history?.byVersion.get(read.version);
      if (!source) {
        verdict.unknown = true;
        return verdict;
      }
      if (source.startMs > read.endMs) verdict.future = true;
    }
    if (!history) return verdict;
    const seen = read.version ?? Number.NEGATIVE_INFINITY;
    const n = ackedBefore(history.byAck, read.startMs);
    if (n > 0) {
      verdict.requiredVersion = history.prefixMax[n - 1] as number;
      if (seen < verdict.requiredVersion) {
        verdict.stale = true;
        let oldestMissedAck = Number.POSITIVE_INFINITY;
        for (let i = 0; i < n; i++) {
          const w = history.byAck[i] as WriteEvent;
          if (w.version > seen) {
            verdict.versionsBehind++;
            oldestMissedAck = Math.min(oldestMissedAck, w.ackMs);
          }
        }
        verdict.stalenessMs = read.startMs - oldestMissedAck;
      }
    }
    const own = history.bySession.get(read.session);
    if (own) {
      const m = ackedBefore(own.byAck, read.startMs);
      if (m > 0) {
        verdict.ownRequiredVersion = own.prefixMax[m - 1] as number;
        if (seen < verdict.ownRequiredVersion) verdict.rywViolation = true;
      }
    }
    return verdict;
  }
}

/** Judges every read against the writes and counts the verdicts. */
export function checkHistory(writes: readonly WriteEvent[], reads: readonly ReadEvent[]): CheckSummary {
  const checker = new ConsistencyChecker(writes);
  const summary: CheckSummary = {
    reads: reads.length,
    writes: writes.length,
    stale: 0,
    rywViolations: 0,
    future: 0,
    unknown: 0,
    staleRate: Number.NaN,
    stalenessMs: [],
  };
  for (const r of reads) {
    const v = checker.judge(r);
    if (v.unknown) summary.unknown++;
    if (v.future) summary.future++;
    if (v.rywViolation) summary.rywViolations++;
    if (v.stale) {
      summary.stale++;
      if (v.stalenessMs !== null) summary.stalenessMs.push(v.stalenessMs);
    }
  }
  summary.stalenessMs.sort((a, b) => a - b);
  const judged = summary.reads - summary.unknown;
  summary.staleRate = judged > 0 ? summary.stale / judged : Number.NaN;
  return summary;
}
