// Replication positions, compared without I/O: does a replica's replayed position cover the
// position of a session's last write?
//   PostgreSQL LSN       "16/B374D848"             (two hex halves of a 64-bit byte position)
//   MariaDB GTID list    "0-1-100,1-2-7"           (domain-server-seq; one entry per domain)
//   MySQL GTID set       "uuid:1-5:7,uuid2:1-3"    (executed transaction intervals per source)
// Malformed or mixed formats never cover: the caller then waits or uses the primary.

const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/**
 * A PostgreSQL LSN ("16/B374D848", pg_lsn's text: two hex halves of a 64-bit byte position,
 * surrounding blanks ignored) as its byte position; null when absent or malformed. The one LSN
 * parser: the probe loop, read_your_writes and the migration's replication all use it.
 */
export function parseLsn(text: string | null | undefined): bigint | null {
  if (!text) return null;
  const m = LSN_RE.exec(text.trim());
  if (!m) return null;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** -1 / 0 / 1, or null when either LSN is malformed. */
export function compareLsn(x: string, y: string): -1 | 0 | 1 | null {
  const a = parseLsn(x);
  const b = parseLsn(y);
  if (a === null || b === null) return null;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** Compares unsigned decimal strings of any length without BigInt. */
function compareDecimal(x: string, y: string): -1 | 0 | 1 {
  const a = x.replace(/^0+(?=\d)/, '');
  const b = y.replace(/^0+(?=\d)/, '');
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const MARIADB_GTID_RE = /^(\d+)-(\d+)-(\d+)$/;

/** MariaDB GTID list -> domain -> seq (decimal text), or null if malformed. */
export function parseMariadbGtidList(text: string): Map<string, string> | null {
  const out = new Map<string, string>();
  const trimmed = text.trim();
  if (trimmed === '') return out;
  for (const part of trimmed.split(',')) {
    const m = MARIADB_GTID_RE.exec(part.trim());
    if (!m) return null;
    const domain = String(Number(m[1]));
    const prev = out.get(domain);
    if (prev === undefined || compareDecimal(m[3]!, prev) > 0) out.set(domain, m[3]!);
  }
  return out;
}

/**
 * Both positions parse, and every entry of `wanted` is `covered` by the replica's entry of the
 * same key (undefined when the replica has none).
 */
function coversEach<V>(
  replica: string,
  wanted: string,
  parse: (text: string) => Map<string, V> | null,
  covered: (got: V | undefined, want: V) => boolean,
): boolean {
  const have = parse(replica);
  const want = parse(wanted);
  if (!have || !want) return false;
  for (const [key, w] of want) if (!covered(have.get(key), w)) return false;
  return true;
}

/** Every domain of `wanted` is present in `replica` with a sequence number at least as high. */
export function mariadbCovers(replica: string, wanted: string): boolean {
  return coversEach(
    replica,
    wanted,
    parseMariadbGtidList,
    (got, seq) => got !== undefined && compareDecimal(got, seq) >= 0,
  );
}

type Intervals = Array<[number, number]>;

/** MySQL GTID set -> source uuid (lower-case, optional ":tag" kept) -> sorted merged intervals. */
export function parseMysqlGtidSet(text: string): Map<string, Intervals> | null {
  const out = new Map<string, Intervals>();
  const trimmed = text.replace(/\s+/g, '');
  if (trimmed === '') return out;
  for (const member of trimmed.split(',')) {
    const parts = member.split(':');
    const uuid = parts[0]!.toLowerCase();
    if (!/^[0-9a-f-]{32,36}$/.test(uuid) || parts.length < 2) return null;
    let source = uuid;
    const list = out.get(source) ?? [];
    for (const p of parts.slice(1)) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(p);
      if (!m) {
        // MySQL 8.3 tagged GTIDs: "uuid:tag:1-5"; intervals after a tag belong to uuid:tag.
        if (/^[a-z_][a-z0-9_]{0,31}$/i.test(p)) {
          source = `${uuid}:${p.toLowerCase()}`;
          continue;
        }
        return null;
      }
      const start = Number(m[1]);
      const end = m[2] === undefined ? start : Number(m[2]);
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return null;
      const target = source === uuid ? list : (out.get(source) ?? []);
      target.push([start, end]);
      out.set(source, target);
    }
    if (!out.has(uuid)) out.set(uuid, list);
  }
  for (const [k, list] of out) out.set(k, mergeIntervals(list));
  return out;
}

function mergeIntervals(list: Intervals): Intervals {
  const sorted = [...list].sort((x, y) => x[0] - y[0]);
  const merged: Intervals = [];
  for (const [s, e] of sorted) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged;
}

/** `wanted` is a subset of `replica` (every wanted transaction was executed by the replica). */
export function mysqlCovers(replica: string, wanted: string): boolean {
  return coversEach(replica, wanted, parseMysqlGtidSet, (got = [], intervals) =>
    intervals.every(([s, e]) => got.some(([gs, ge]) => gs <= s && e <= ge)),
  );
}

export type PositionFormat = 'lsn' | 'mariadb' | 'mysql';

export function positionFormat(text: string): PositionFormat {
  if (text.includes('/')) return 'lsn';
  if (text.includes(':')) return 'mysql';
  return 'mariadb';
}

/** Whether a server at position `replica` has replayed everything up to `wanted`. */
export function positionCovers(replica: string | null, wanted: string): boolean {
  if (replica === null) return false;
  const format = positionFormat(wanted);
  if (positionFormat(replica) !== format) return false;
  switch (format) {
    case 'lsn': {
      const c = compareLsn(replica, wanted);
      return c !== null && c >= 0;
    }
    case 'mariadb':
      return mariadbCovers(replica, wanted);
    default:
      return mysqlCovers(replica, wanted);
  }
}
