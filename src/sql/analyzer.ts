// The entry point the proxy calls on every query: fingerprint (one pass), then a bounded LRU of
// facts keyed by fingerprint, so a query shape is parsed by libpg-query once; a hit costs the
// tokenizer pass and a Map lookup.
import { loadModule } from 'libpg-query';
import { analyzePostgres } from './analyze-postgres.js';
import {
  type CommentHints,
  emptyStatementFacts,
  type QueryFacts,
  type StatementFacts,
  type ValueRef,
} from './facts.js';
import { fingerprint, type Literal } from './fingerprint.js';

export interface AnalyzedQuery {
  fingerprint: string;
  literals: Literal[];
  facts: QueryFacts;
  cacheHit: boolean;
}

const EXPLAIN_PREFIX = /^\s*shardgate\s+explain\s+/i;

export function parseHints(comments: string[]): CommentHints {
  const hints: CommentHints = {};
  for (const c of comments) {
    const body = c.replace(/^shardgate:\s*/, '');
    for (const m of body.matchAll(/([a-z_]+)\s*=\s*([^\s,;]+)/gi)) {
      const key = m[1]!.toLowerCase() as keyof CommentHints;
      if (['consistency', 'shard', 'role', 'vip', 'realtime', 'battery_saving'].includes(key))
        hints[key] = m[2]!;
    }
  }
  return hints;
}

function explainFacts(inner: string): StatementFacts {
  return { ...emptyStatementFacts('shardgate'), shardgate: { command: 'explain', statement: inner } };
}

export class QueryAnalyzer {
  private readonly cache = new Map<string, QueryFacts>();
  private hits = 0;
  private misses = 0;

  private constructor(private readonly capacity: number) {}

  static async create(options: { cacheSize: number }): Promise<QueryAnalyzer> {
    await loadModule();
    return new QueryAnalyzer(options.cacheSize);
  }

  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.hits, misses: this.misses, size: this.cache.size };
  }

  analyze(sql: string): AnalyzedQuery {
    const explain = EXPLAIN_PREFIX.exec(sql);
    if (explain) {
      const inner = sql.slice(explain[0].length);
      return {
        fingerprint: '',
        literals: [],
        facts: { statements: [explainFacts(inner)], hints: {}, literalCount: 0, paramCount: 0 },
        cacheHit: false,
      };
    }
    const fp = fingerprint(sql);
    const cached = this.cache.get(fp.text);
    if (cached && cached.literalCount === fp.literals.length) {
      this.hits++;
      // LRU: move to the back.
      this.cache.delete(fp.text);
      this.cache.set(fp.text, cached);
      const facts = fp.hintComments.length ? { ...cached, hints: parseHints(fp.hintComments) } : cached;
      return { fingerprint: fp.text, literals: fp.literals, facts, cacheHit: true };
    }
    this.misses++;
    const parsed = analyzePostgres(sql, fp.literals);
    const facts: QueryFacts = {
      statements: parsed.statements,
      hints: parseHints(fp.hintComments),
      literalCount: fp.literals.length,
      paramCount: fp.maxParam,
    };
    // Settings and shardgate commands carry their values in the facts: never cache them.
    const cacheable = parsed.statements.every(
      (s) => s.kind !== 'session' && s.kind !== 'shardgate' && s.kind !== 'unknown',
    );
    if (cacheable) {
      if (this.cache.size >= this.capacity) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(fp.text, { ...facts, hints: {} });
    }
    return { fingerprint: fp.text, literals: fp.literals, facts, cacheHit: false };
  }
}

/** The text value a ValueRef stands for in this execution; null for SQL NULL or unknown. */
export function resolveValue(
  ref: ValueRef,
  literals: Literal[],
  params: Array<string | null>,
): string | null {
  switch (ref.kind) {
    case 'const':
      return ref.value;
    case 'param':
      return params[ref.index - 1] ?? null;
    case 'literal': {
      const lit = literals[ref.index];
      if (!lit) return null;
      return ref.negate ? (lit.value.startsWith('-') ? lit.value.slice(1) : `-${lit.value}`) : lit.value;
    }
  }
}
