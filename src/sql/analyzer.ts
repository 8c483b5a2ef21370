// The entry point the proxy calls on every query: fingerprint (one pass), then a bounded LRU of
// facts keyed by fingerprint, so a query shape is parsed by libpg-query once; a hit costs the
// tokenizer pass and a Map lookup. Cached facts are shared between calls: treat them as read-only.
import { loadModule } from 'libpg-query';
import { ShardgateError } from '../errors.js';
import { analyzePostgres } from './analyze-postgres.js';
import { parseTextArray } from './bind-params.js';
import { scanBulkInsert } from './bulk-insert.js';
import { emptyStatementFacts, type QueryFacts, type StatementFacts, type ValueRef } from './facts.js';
import { type Fingerprint, fingerprint, type Literal, type StatementRange } from './fingerprint.js';
import { parseHints } from './hints.js';
import { approximateBytes, type CacheStats, ParseCache } from './parse-cache.js';

export type { Literal, StatementRange } from './fingerprint.js';
export { parseTextArray };

export interface AnalyzedQuery {
  /** Normalized text with literals as `?`: the cache key and the statement's shape for metrics. */
  fingerprint: string;
  /** Literal values of this text in order, with their offsets; ValueRefs index into it. */
  literals: Literal[];
  facts: QueryFacts;
  cacheHit: boolean;
  /** Where each statement of this text is ([start, end), without `;`). */
  statements: StatementRange[];
}

export interface AnalyzerOptions {
  cacheSize: number;
  /** routing.parseCacheBytes: bound of the cache's fingerprints and facts together. */
  cacheBytes?: number;
  /** limits.maxStatementTokens: longer texts are refused before they are parsed. */
  maxStatementTokens?: number;
}

export const DEFAULT_PARSE_CACHE_BYTES = 32 * 1024 * 1024;

/** The analysis cache of either protocol, bounded by entries and by bytes. */
export function newFactsCache<V>(options: AnalyzerOptions): ParseCache<V> {
  return new ParseCache<V>(
    Math.max(0, Math.floor(options.cacheSize)),
    options.cacheBytes ?? DEFAULT_PARSE_CACHE_BYTES,
    approximateBytes,
  );
}

/** SHARDGATE EXPLAIN SHARDGATE EXPLAIN ...: each level would analyze the rest again (quadratic). */
export function refuseNestedExplain(fingerprintText: string): void {
  if (fingerprintText.startsWith('shardgate explain shardgate explain')) {
    throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail: 'SHARDGATE EXPLAIN of a SHARDGATE EXPLAIN (explain the statement itself)',
    });
  }
}

export interface AnalyzeOptions {
  /** standard_conforming_strings is off: a backslash in a '...' string escapes. */
  backslashQuotes?: boolean;
}

/** Facts as cached per query shape: everything but the comment hints of this text. */
export type CachedFacts = Omit<QueryFacts, 'hints'>;

const NO_HINTS = Object.freeze({}) as QueryFacts['hints'];
const EXPLAIN = /shardgate\s+explain\b\s*/iy;

let moduleLoaded = false;

export class QueryAnalyzer {
  private readonly cache: ParseCache<CachedFacts>;
  private readonly maxTokens: number;

  /** Call `await QueryAnalyzer.load()` once before the first analyze (or use create()). */
  constructor(options: AnalyzerOptions) {
    this.cache = newFactsCache(options);
    this.maxTokens = options.maxStatementTokens ?? Number.POSITIVE_INFINITY;
  }

  /** Loads the libpg-query WASM module (once per process). */
  static async load(): Promise<void> {
    if (moduleLoaded) return;
    await loadModule();
    moduleLoaded = true;
  }

  static async create(options: AnalyzerOptions): Promise<QueryAnalyzer> {
    await QueryAnalyzer.load();
    return new QueryAnalyzer(options);
  }

  get stats(): CacheStats {
    return this.cache.stats;
  }

  /** `backslashQuotes`: the session runs with standard_conforming_strings off. */
  analyze(sql: string, options?: AnalyzeOptions): AnalyzedQuery {
    let fp: Fingerprint;
    try {
      fp = fingerprint(sql, this.maxTokens);
    } catch (err) {
      const bulk =
        err instanceof ShardgateError && err.code === 'STATEMENT_TOO_COMPLEX' && !options?.backslashQuotes
          ? this.bulkInsert(sql)
          : null;
      if (bulk) return bulk;
      throw err;
    }
    // The tokenizer and libpg-query read '...' as standard strings; with the setting off the
    // server would read a backslash in one as an escape: another statement than the one routed.
    if (fp.plainBackslash && options?.backslashQuotes) throw new ShardgateError('NONSTANDARD_STRING_LITERAL');
    const hints = fp.hintComments.length > 0 ? parseHints(fp.hintComments) : NO_HINTS;
    if (fp.text.startsWith('shardgate explain')) {
      refuseNestedExplain(fp.text);
      const facts = explainFacts(sql, fp.statements[0]?.start ?? 0, fp.maxParam, hints);
      if (facts) return analyzed(fp, facts);
    }
    if (fp.text === 'shardgate clear cache') {
      const facts: StatementFacts = {
        ...emptyStatementFacts('shardgate'),
        shardgate: { command: 'clear_cache' },
      };
      const query: QueryFacts = { statements: [facts], hints, literalCount: 0, paramCount: 0 };
      return analyzed(fp, query);
    }
    const cached = this.cache.get(fp.text);
    if (cached !== undefined && cached.literalCount === fp.literals.length) {
      return analyzed(fp, withHints(cached, hints), true);
    }
    if (cached !== undefined) this.cache.countMiss();
    if (!moduleLoaded) {
      throw new ShardgateError('INTERNAL', { detail: 'QueryAnalyzer used before QueryAnalyzer.load()' });
    }
    const statements = analyzePostgres(sql, fp.literals);
    const facts: CachedFacts = { statements, literalCount: fp.literals.length, paramCount: fp.maxParam };
    if (cacheable(statements, fp.literals.length)) this.cache.set(fp.text, facts);
    return analyzed(fp, withHints(facts, hints));
  }

  /**
   * A text past the token bound that is one plain multi-row INSERT: routed by its target table
   * (the head through the first row is parsed; the other rows are only scanned), never cached.
   * Null when it is anything else: the caller keeps the refusal.
   */
  private bulkInsert(sql: string): AnalyzedQuery | null {
    const scan = scanBulkInsert(sql);
    if (!scan || !moduleLoaded) return null;
    const head = fingerprint(scan.head, this.maxTokens);
    const statements = analyzePostgres(scan.head, head.literals);
    const s = statements[0];
    const insert = s?.insert;
    if (statements.length !== 1 || !s || s.kind !== 'write' || !insert) return null;
    if (
      insert.fromSelect ||
      insert.onConflict ||
      insert.returning ||
      s.modifyingCte ||
      s.functions.length > 0
    )
      return null;
    const facts: StatementFacts = {
      ...s,
      insert: { ...insert, rows: [], rowsUnread: { maxTokens: this.maxTokens } },
    };
    const hints = scan.hintComments.length > 0 ? parseHints(scan.hintComments) : NO_HINTS;
    return {
      fingerprint: `${head.text}, ...`,
      literals: [],
      facts: { statements: [facts], hints, literalCount: 0, paramCount: scan.maxParam },
      cacheHit: false,
      statements: [scan.statement],
    };
  }
}

/** SHARDGATE EXPLAIN <statement>: not SQL, answered by the proxy (the router plans the inner text). */
export function explainFacts(
  sql: string,
  start: number,
  maxParam: number,
  hints: QueryFacts['hints'],
): QueryFacts | null {
  EXPLAIN.lastIndex = start;
  if (!EXPLAIN.exec(sql)) return null;
  const statement = sql.slice(EXPLAIN.lastIndex);
  const f: StatementFacts = {
    ...emptyStatementFacts('shardgate'),
    shardgate: { command: 'explain', statement },
  };
  return { statements: [f], hints, literalCount: 0, paramCount: maxParam };
}

/** The answer for a fingerprinted text (both dialects). */
export function analyzed(
  fp: { text: string; literals: Literal[]; statements: StatementRange[] },
  facts: QueryFacts,
  cacheHit = false,
): AnalyzedQuery {
  return { fingerprint: fp.text, literals: fp.literals, facts, cacheHit, statements: fp.statements };
}

/** Explicit fields: an object spread here cost more than the whole tokenizer pass. */
export function withHints(f: CachedFacts, hints: QueryFacts['hints']): QueryFacts {
  return { statements: f.statements, hints, literalCount: f.literalCount, paramCount: f.paramCount };
}

/**
 * Facts that hold values cannot be shared between texts: SET/shardgate statements with literals
 * and COPY FROM with option literals (their values are copied into the facts), and unparsable
 * text (its error message).
 */
function cacheable(statements: StatementFacts[], literalCount: number): boolean {
  for (const s of statements) {
    // EXPLAIN: rare, and its option values (ANALYZE 0/1) decide the kind.
    if (s.kind === 'unknown' || s.utility === 'explain') return false;
    if (literalCount > 0 && (s.kind === 'session' || s.kind === 'shardgate')) return false;
    // COPY FROM's options (DELIMITER ',', NULL '') are literals copied into its facts.
    if (literalCount > 0 && (s.copyIn || s.copyOut?.format)) return false;
  }
  return true;
}

/** The text value a ValueRef stands for in this execution; null for SQL NULL or unknown. */
export function resolveValue(
  ref: ValueRef,
  literals: ReadonlyArray<Literal | string>,
  params: ReadonlyArray<string | null>,
): string | null {
  switch (ref.kind) {
    case 'const':
      return ref.value;
    case 'param':
      return params[ref.index - 1] ?? null;
    case 'literal': {
      const lit = literals[ref.index];
      if (lit === undefined) return null;
      const value = typeof lit === 'string' ? lit : lit.value;
      if (!ref.negate) return value;
      if (value.startsWith('-')) return value.slice(1);
      return /^0+(\.0*)?$/.test(value) ? value : `-${value}`;
    }
  }
}

/** `= ANY($n)`: the elements of parameter n (a text array literal such as `{1,2,3}`), or null. */
export function resolveArrayParam(index: number, params: ReadonlyArray<string | null>): string[] | null {
  const raw = params[index - 1];
  return raw === undefined || raw === null ? null : parseTextArray(raw);
}
