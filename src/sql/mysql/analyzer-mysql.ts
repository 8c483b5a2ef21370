// The MySQL/MariaDB entry point, with the same surface as QueryAnalyzer (src/sql/analyzer.ts) so
// the router takes either: fingerprint (one pass, MySQL lexer) -> bounded LRU of facts keyed by
// fingerprint -> analysis (tokens + node-sql-parser) only on a miss. A hit costs the tokenizer
// pass and a Map lookup. Cached facts are shared between calls: treat them as read-only.
//
// Literals and `?` placeholders: ValueRefs point at the literal list of the current text (kind
// 'literal') or at placeholder n (kind 'param', 1-based in text order), so resolveValue() of
// src/sql/analyzer.ts resolves them with the statement's COM_STMT_EXECUTE values.
import {
  type AnalyzedQuery,
  type AnalyzeOptions,
  type AnalyzerOptions,
  analyzed,
  type CachedFacts,
  explainFacts,
  newFactsCache,
  refuseNestedExplain,
  withHints,
} from '../analyzer.js';
import type { QueryFacts, StatementFacts } from '../facts.js';
import { parseHints } from '../hints.js';
import type { CacheStats, ParseCache } from '../parse-cache.js';
import { analyzeMysql } from './analyze-mysql.js';
import { fingerprintMysql, type Token } from './fingerprint-mysql.js';

export type { AnalyzedQuery } from '../analyzer.js';

/**
 * What the router needs from an analyzer of either dialect. QueryAnalyzer has private members,
 * so TypeScript compares it nominally: a router that takes either should use this type.
 */
export interface SqlAnalyzer {
  analyze(sql: string, options?: AnalyzeOptions): AnalyzedQuery;
  readonly stats: CacheStats;
}

const NO_HINTS = Object.freeze({}) as QueryFacts['hints'];

export class MysqlQueryAnalyzer implements SqlAnalyzer {
  private readonly cache: ParseCache<CachedFacts>;

  private readonly maxTokens: number;

  constructor(options: AnalyzerOptions) {
    this.cache = newFactsCache(options);
    this.maxTokens = options.maxStatementTokens ?? Number.POSITIVE_INFINITY;
  }

  /** Nothing to load (node-sql-parser is plain JavaScript); kept for QueryAnalyzer's surface. */
  static async load(): Promise<void> {}

  static async create(options: AnalyzerOptions): Promise<MysqlQueryAnalyzer> {
    return new MysqlQueryAnalyzer(options);
  }

  get stats(): CacheStats {
    return this.cache.stats;
  }

  analyze(sql: string): AnalyzedQuery {
    const fp = fingerprintMysql(sql, undefined, this.maxTokens);
    const hints = fp.hintComments.length > 0 ? parseHints(fp.hintComments) : NO_HINTS;
    if (fp.text.startsWith('shardgate explain')) {
      refuseNestedExplain(fp.text);
      const facts = explainFacts(sql, fp.statements[0]?.start ?? 0, fp.maxParam, hints);
      if (facts) {
        return analyzed(fp, facts);
      }
    }
    const cached = this.cache.get(fp.text);
    if (cached !== undefined && cached.literalCount === fp.literals.length) {
      return analyzed(fp, withHints(cached, hints), true);
    }
    if (cached !== undefined) this.cache.countMiss();
    const tokens: Token[][] = [];
    fingerprintMysql(sql, tokens);
    const statements = analyzeMysql(sql, fp, tokens);
    const facts: CachedFacts = { statements, literalCount: fp.literals.length, paramCount: fp.maxParam };
    if (cacheable(statements)) this.cache.set(fp.text, facts);
    return analyzed(fp, withHints(facts, hints));
  }
}

/**
 * Facts that hold values copied from the text cannot be shared between texts: SET / USE values
 * (also case-sensitive database names that the lower-cased fingerprint would merge) and the
 * proxy's own commands. They are read from tokens, so a miss costs little.
 */
function cacheable(statements: StatementFacts[]): boolean {
  for (const s of statements) {
    if (s.kind === 'shardgate' || s.kind === 'unknown') return false;
    if (s.session && s.session.action !== 'show') return false;
  }
  return true;
}
