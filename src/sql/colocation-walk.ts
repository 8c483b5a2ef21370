// What the two colocation walks (pg-colocation.ts over the PostgreSQL parse tree,
// mysql/mysql-colocation.ts over node-sql-parser's MySQL AST) share: scopes of FROM items, the
// outputs a derived table exposes, name resolution, and the facts they collect (table
// occurrences, links, pins, nested blocks) with pin propagation. The walks only read their own
// trees and call these.
import type { ColocationFacts, ColumnOf, LocalBlock } from './facts.js';

/** What a derived table, CTE reference or subquery exposes: its columns by position and name. */
export interface Outputs {
  /** By position; null when a `*` hides the positions. */
  list: Array<ColumnOf | null> | null;
  byName(column: string): ColumnOf | null;
}

export type Item = { kind: 'ref'; ref: number } | { kind: 'derived'; outputs: Outputs | null };

export class Scope {
  readonly items = new Map<string, Item>();
  readonly all: Item[] = [];
  constructor(readonly parent: Scope | null) {}
}

export interface Resolved {
  of: ColumnOf;
  scope: Scope;
}

/** A CTE as the walk expands it: once per reference, its body in the CTEs visible from it. */
export interface Cte {
  query: unknown;
  /** Declared WITH RECURSIVE (PostgreSQL), or found naming itself in its body (MySQL). */
  recursive: boolean;
  expanding: boolean;
  used: boolean;
  columns: string[];
  /** The CTEs visible from its body (itself included, for WITH RECURSIVE). */
  env: CteEnv;
}

export type CteEnv = ReadonlyMap<string, Cte>;

export const NO_OUTPUTS: Outputs = { list: null, byName: () => null };

const keyOf = (of: ColumnOf) => `${of.refs.join(',')}.${of.column}`;

/** Outputs seen through column aliases (`AS x(a, b)`, `WITH x(a, b)`): renamed by position; other
 *  names are not resolved (no link rather than a wrong one). */
export function renamed(outputs: Outputs, names: string[]): Outputs {
  if (names.length === 0) return outputs;
  const cols = outputs.list;
  return {
    list: cols ? cols.map((c, i) => (i < names.length ? c : null)) : null,
    byName: (column) => {
      const i = names.indexOf(column);
      return i >= 0 && cols ? (cols[i] ?? null) : null;
    },
  };
}

/** The outputs of a select list: named columns, and with `*` any column the scope itself resolves. */
export function selectOutputs(
  names: string[],
  cols: Array<ColumnOf | null>,
  star: boolean,
  resolveOwn: (column: string) => ColumnOf | null,
): Outputs {
  return {
    list: star ? null : cols,
    byName: (column) => {
      const i = names.indexOf(column);
      if (i >= 0) return cols[i] ?? null;
      return star ? resolveOwn(column) : null;
    },
  };
}

/** What makes a nested block's per-shard answer partial, in the planner's words; null: nothing. */
export function blockKind(b: {
  limited: boolean;
  window: boolean;
  grouped: boolean;
  aggregate: boolean;
  distinct: boolean;
}): string | null {
  if (b.limited) return 'LIMIT/OFFSET';
  if (b.window) return 'a window function';
  if (b.grouped) return 'GROUP BY';
  if (b.aggregate) return 'an aggregate';
  if (b.distinct) return 'DISTINCT';
  return null;
}

/** The facts both walks collect, and the steps on them that do not depend on the tree. */
export abstract class FactsBuilder {
  readonly refs: string[] = [];
  readonly links: Array<[ColumnOf, ColumnOf]> = [];
  /** Links that also carry a pinned value across (same-block WHERE / inner JOIN ON). */
  protected readonly strong: Array<[ColumnOf, ColumnOf]> = [];
  readonly pins: ColocationFacts['pins'] = [];
  readonly blocks: LocalBlock[] = [];
  private readonly ctes: Cte[] = [];

  /** `selfReferenceIsRecursive`: a CTE naming itself is recursive (MySQL's parser does not say). */
  constructor(private readonly selfReferenceIsRecursive: boolean) {}

  /** Any statement that yields rows, in the walk's own tree. */
  abstract statement(query: unknown, parent: Scope | null, env: CteEnv, nested: boolean): Outputs;

  /** Registers a CTE of a WITH list in `env` (the list's own map). */
  protected addCte(
    env: Map<string, Cte>,
    name: string,
    query: unknown,
    recursive: boolean,
    columns: string[],
  ): void {
    const entry: Cte = { query, recursive, expanding: false, used: false, columns, env };
    this.ctes.push(entry);
    env.set(name.toLowerCase(), entry);
  }

  /** A reference to a CTE: its body walked again (its tables occur once per reference). */
  protected cteReference(cte: Cte, env: CteEnv): Outputs | null {
    cte.used = true;
    // A recursive CTE's reference to itself inside its own body.
    if (cte.expanding) {
      if (this.selfReferenceIsRecursive) cte.recursive = true;
      return null;
    }
    cte.expanding = true;
    const start = this.refs.length;
    const outputs = this.statement(cte.query, null, env, true);
    cte.expanding = false;
    if (cte.recursive && this.refs.length > start)
      this.blocks.push({ refs: this.range(start), what: 'WITH RECURSIVE', keyColumns: [] });
    return cte.recursive ? null : renamed(outputs, cte.columns);
  }

  /** Unreferenced CTEs still run (data-modifying ones): their tables count, one group each. */
  unusedCtes(groups: number[][]): void {
    for (let i = 0; i < this.ctes.length; i++) {
      const cte = this.ctes[i]!;
      if (cte.used) continue;
      const start = this.refs.length;
      this.cteReference(cte, cte.env);
      groups.push(this.range(start));
    }
  }

  /** The table occurrences added since `start`. */
  protected range(start: number): number[] {
    const out: number[] = [];
    for (let i = start; i < this.refs.length; i++) out.push(i);
    return out;
  }

  /** An equality of two columns; `strong` when a pinned value crosses it too. */
  protected link(a: ColumnOf, b: ColumnOf, strong: boolean): void {
    this.links.push([a, b]);
    if (strong) this.strong.push([a, b]);
  }

  /** The column `column` of one side of a USING join (the items that have it). */
  protected itemColumn(items: Item[], column: string): ColumnOf | null {
    const refs: number[] = [];
    for (const it of items) {
      if (it.kind === 'ref') refs.push(it.ref);
      else {
        const of = it.outputs?.byName(column);
        if (of && of.column === column) refs.push(...of.refs);
      }
    }
    return refs.length ? { refs, column } : null;
  }

  /** A column reference (`qualifier` null when unqualified), from `scope` outwards. */
  protected resolveName(qualifier: string | null, column: string, scope: Scope): Resolved | null {
    if (qualifier === null) {
      for (let s: Scope | null = scope; s; s = s.parent) {
        if (s.all.length === 0) continue;
        if (s.all.length === 1) {
          const only = s.all[0]!;
          if (only.kind === 'ref') return { of: { refs: [only.ref], column }, scope: s };
          const of = only.outputs?.byName(column) ?? null;
          return of ? { of, scope: s } : null;
        }
        // Several FROM items: each is a candidate; a derived one only under the same name.
        return { of: this.itemColumn(s.all, column) ?? { refs: [], column }, scope: s };
      }
      return null;
    }
    for (let s: Scope | null = scope; s; s = s.parent) {
      const it = s.items.get(qualifier);
      if (!it) continue;
      if (it.kind === 'ref') return { of: { refs: [it.ref], column }, scope: s };
      const of = it.outputs?.byName(column) ?? null;
      return of ? { of, scope: s } : null;
    }
    return null;
  }

  /** Correlation with the outer query (`inner = outer` in a nested block): its key columns. */
  protected correlated(equalities: Array<[Resolved | null, Resolved | null]>, scope: Scope): ColumnOf[] {
    const keys: ColumnOf[] = [];
    for (const [l, r] of equalities) {
      if (!l || !r) continue;
      if (l.scope === scope && r.scope !== scope) keys.push(l.of);
      else if (r.scope === scope && l.scope !== scope) keys.push(r.of);
    }
    return keys;
  }

  /** `a.k = b.k AND a.k = v` pins b.k to v too (chains: until nothing new). */
  propagatePins(): void {
    const known = new Map<string, ColocationFacts['pins'][number]>();
    for (const p of this.pins) known.set(keyOf(p.of), p);
    for (let changed = true; changed; ) {
      changed = false;
      for (const [a, b] of this.strong) {
        for (const [from, to] of [
          [a, b],
          [b, a],
        ] as const) {
          const pin = known.get(keyOf(from));
          if (!pin || known.has(keyOf(to))) continue;
          const copy = { ...pin, of: to };
          this.pins.push(copy);
          known.set(keyOf(to), copy);
          changed = true;
        }
      }
    }
  }

  /** The facts, after pin propagation; undefined when there is nothing to decide (one table
   *  occurrence and no nested block). */
  facts(groups: number[][]): ColocationFacts | undefined {
    this.propagatePins();
    if (this.refs.length < 2 && this.blocks.length === 0) return undefined;
    return {
      refs: this.refs,
      groups: groups.filter((g) => g.length > 0),
      links: this.links,
      pins: this.pins,
      blocks: this.blocks,
    };
  }
}
