// A seeded, grammar-based generator of SQL statements over the demo schema (in the spirit
// of SQLancer and sqlsmith, much smaller): reads of every class the merge handles (plain, ordered
// and paged, aggregates, grouping with HAVING, DISTINCT [ON], set operations, windows, CTEs,
// subqueries on the shard key, joins and IN subqueries not on it, aggregates inside expressions) and writes (INSERT, UPDATE, DELETE,
// upserts, with RETURNING), each write followed by a query that compares the rows it touched.
// Every statement's answer is deterministic on PostgreSQL itself: an ORDER BY with LIMIT covers
// every output column, ordered aggregates say ORDER BY. The same seed gives the same statements.
// One grammar for both dialects: where PostgreSQL and MySQL/MariaDB spell a construct differently
// (string_agg / GROUP_CONCAT, ON CONFLICT / ON DUPLICATE KEY, RETURNING on UPDATE) the dialect
// picks the spelling; DISTINCT ON and bool_and/bool_or/array_agg exist on PostgreSQL only.
import { mulberry32 } from '../lib/seeded-random.js';
import type { Statement } from './harness.js';
import { type ColumnKind, MODEL_TABLES, type ModelColumn, type ModelTable } from './schema-model.js';

export type Dialect = 'postgres' | 'mysql';

export interface GeneratorOptions {
  seed: number;
  /** Demo users loaded (user_id 1..users; a few more ids are drawn to hit empty keys). */
  users: number;
  /** SQL spelling; PostgreSQL when absent. */
  dialect?: Dialect;
}

class Gen {
  private readonly rnd: () => number;
  private nextId = 10_000_000;
  private readonly inserted = new Map<string, Array<{ id: number; userId: number }>>();
  private readonly mysql: boolean;

  constructor(private readonly options: GeneratorOptions) {
    this.rnd = mulberry32(options.seed);
    this.mysql = options.dialect === 'mysql';
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rnd() * items.length)]!;
  }
  some<T>(items: readonly T[], min = 1, max = items.length): T[] {
    const n = this.int(min, Math.min(max, items.length));
    const copy = items.slice();
    const out: T[] = [];
    while (out.length < n) out.push(copy.splice(Math.floor(this.rnd() * copy.length), 1)[0]!);
    return out;
  }

  table(): ModelTable {
    return this.pick(MODEL_TABLES);
  }
  sharded(): ModelTable {
    return this.pick(MODEL_TABLES.filter((t) => t.sharded));
  }
  user(): number {
    return this.int(1, this.options.users + 3);
  }
  cols(t: ModelTable, kind?: ColumnKind): ModelColumn[] {
    return t.columns.filter((c) => kind === undefined || c.kind === kind);
  }
  numeric(t: ModelTable): ModelColumn[] {
    return t.columns.filter((c) => c.kind === 'int' || c.kind === 'num' || c.kind === 'float');
  }

  literal(c: ModelColumn): string {
    switch (c.kind) {
      case 'int':
        return c.name === 'user_id' ? String(this.user()) : String(this.int(0, this.options.users * 14));
      case 'num':
        return `${this.int(0, 600)}.${String(this.int(0, 99)).padStart(2, '0')}`;
      case 'float':
        return (this.int(0, 100) / 10).toString();
      case 'bool':
        return this.pick(['true', 'false']);
      case 'text':
        return `'${this.pick(c.samples ?? ['x']).replace(/'/g, "''")}'`;
    }
  }

  predicate(t: ModelTable, depth = 0): string {
    const r = this.rnd();
    if (depth < 1 && r < 0.15) {
      return `(${this.predicate(t, depth + 1)} ${this.pick(['AND', 'OR'])} ${this.predicate(t, depth + 1)})`;
    }
    if (t.sharded && r < 0.3) return `user_id = ${this.user()}`;
    if (t.sharded && r < 0.38)
      return `user_id IN (${this.some([1, 2, 3, 5, 8, 13, 21, 34, 55].map(String), 2, 4).join(', ')})`;
    const c = this.pick(t.columns);
    switch (c.kind) {
      case 'bool':
        return this.chance(0.5) ? c.name : `NOT ${c.name}`;
      case 'text': {
        const v = this.literal(c);
        return this.chance(0.3)
          ? `${c.name} LIKE '${v.slice(1, 4).replace(/'/g, '')}%'`
          : `${c.name} ${this.pick(['=', '<>', '<', '>='])} ${v}`;
      }
      default:
        if (this.chance(0.2)) {
          const a = this.literal(c);
          const b = this.literal(c);
          return `${c.name} BETWEEN ${a} AND ${b}`;
        }
        return `${c.name} ${this.pick(['=', '<', '<=', '>', '>=', '<>'])} ${this.literal(c)}`;
    }
  }

  where(t: ModelTable, p = 0.7): string {
    return this.chance(p) ? ` WHERE ${this.predicate(t)}` : '';
  }

  orderAll(n: number): string {
    const parts: string[] = [];
    for (let i = 1; i <= n; i++) parts.push(`${i}${this.chance(0.3) ? ' DESC' : ''}`);
    return ` ORDER BY ${parts.join(', ')}`;
  }

  paging(): string {
    const r = this.rnd();
    if (r < 0.4) return '';
    if (r < 0.75) return ` LIMIT ${this.int(0, 25)}`;
    return ` LIMIT ${this.int(1, 20)} OFFSET ${this.int(0, 30)}`;
  }

  aggregate(t: ModelTable): string {
    const nums = this.numeric(t);
    const c = this.pick(nums);
    const any = this.pick(t.columns);
    const fn = this.pick(['count(*)', 'count', 'sum', 'min', 'max', 'avg', 'minmax', 'countcol']);
    switch (fn) {
      case 'count(*)':
        return 'count(*)';
      case 'count':
      case 'countcol':
        return `count(${any.name})`;
      case 'minmax':
        return `${this.pick(['min', 'max'])}(${any.name})`;
      default:
        return `${fn}(${c.name})`;
    }
  }

  aggregates(t: ModelTable): string[] {
    const n = this.int(1, 4);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.aggregate(t));
    return out;
  }

  groupKey(t: ModelTable): ModelColumn {
    const candidates = t.columns.filter((c) => c.kind !== 'float' && c.name !== 'id');
    return this.pick(candidates);
  }

  // --- reads ------------------------------------------------------------------------------
  plain(): string {
    const t = this.table();
    const cols = this.some(t.columns, 1, 4).map((c) => c.name);
    if (this.chance(0.35)) return `SELECT ${cols.join(', ')} FROM ${t.name}${this.where(t)}`;
    return `SELECT ${cols.join(', ')} FROM ${t.name}${this.where(t)}${this.orderAll(cols.length)}${this.paging()}`;
  }

  aggregated(): string {
    const t = this.table();
    return `SELECT ${this.aggregates(t).join(', ')} FROM ${t.name}${this.where(t, 0.6)}`;
  }

  grouped(): string {
    const t = this.table();
    const g = this.groupKey(t);
    const aggs = this.aggregates(t);
    const having = this.chance(0.35)
      ? ` HAVING count(*) ${this.pick(['>', '>=', '<'])} ${this.int(1, 3)}`
      : '';
    return `SELECT ${g.name}, ${aggs.join(', ')} FROM ${t.name}${this.where(t, 0.5)} GROUP BY ${g.name}${having} ORDER BY 1${this.chance(0.4) ? ' DESC' : ''}${this.paging()}`;
  }

  distinct(): string {
    const t = this.table();
    const cols = this.some(
      t.columns.filter((c) => c.kind !== 'float'),
      1,
      2,
    ).map((c) => c.name);
    return `SELECT DISTINCT ${cols.join(', ')} FROM ${t.name}${this.where(t, 0.5)}${this.orderAll(cols.length)}${this.paging()}`;
  }

  aggregateExpression(): string {
    const t = this.table();
    const nums = this.numeric(t).filter((c) => c.kind !== 'float');
    const c = this.pick(nums.length > 0 ? nums : this.numeric(t));
    const e = this.pick([
      `round(avg(${c.name}), 2)`,
      `max(${c.name}) - min(${c.name})`,
      `coalesce(sum(${c.name}), 0)`,
      `sum(${c.name}) / nullif(count(*), 0)`,
      `count(*) + 1`,
      `count(DISTINCT ${c.name})`,
      `count(DISTINCT user_id)`,
    ]);
    if (this.chance(0.5)) {
      const g = this.groupKey(t);
      return `SELECT ${g.name}, ${e} AS v FROM ${t.name}${this.where(t, 0.5)} GROUP BY ${g.name} ORDER BY 1`;
    }
    return `SELECT ${e} AS v FROM ${t.name}${this.where(t, 0.5)}`;
  }

  orderedAggregate(): string {
    const t = this.table();
    const text = this.cols(t, 'text');
    const g = this.groupKey(t);
    const parts = this.mysql
      ? [
          text.length > 0
            ? `group_concat(${text[0]!.name} ORDER BY ${text[0]!.name}, id)`
            : `group_concat(id ORDER BY id SEPARATOR ';')`,
          `group_concat(DISTINCT user_id ORDER BY user_id DESC)`,
          `group_concat(id ORDER BY id)`,
        ]
      : [
          text.length > 0
            ? `string_agg(${text[0]!.name}, ',' ORDER BY ${text[0]!.name}, id)`
            : `string_agg(id::text, ',' ORDER BY id)`,
          `array_agg(id ORDER BY id)`,
          `bool_and(id > ${this.int(0, 200)})`,
          `bool_or(user_id = ${this.user()})`,
        ];
    const chosen = this.some(parts, 1, 2);
    if (this.chance(0.5)) return `SELECT ${chosen.join(', ')} FROM ${t.name}${this.where(t, 0.6)}`;
    return `SELECT ${g.name}, ${chosen.join(', ')} FROM ${t.name}${this.where(t, 0.5)} GROUP BY ${g.name} ORDER BY 1`;
  }

  /** Expressions the proxy evaluates over merged partials: DISTINCT aggregates, FILTER, casts,
   *  functions, statistics in expressions, HAVING over expressions. */
  aggregateMix(): string {
    // PostgreSQL spellings (FILTER, ::casts, numeric(12,2)); the MySQL port refuses these forms.
    if (this.mysql) return this.aggregateExpression();
    const t = this.table();
    const nums = this.numeric(t).filter((c) => c.kind !== 'float');
    const c = this.pick(nums.length > 0 ? nums : this.numeric(t));
    const x = c.name;
    const other = this.pick(t.columns);
    const forms = [
      `sum(DISTINCT ${x})`,
      `avg(DISTINCT ${x})`,
      `count(DISTINCT ${other.name}) * 2`,
      `count(*) FILTER (WHERE ${this.predicate({ ...t, sharded: false })})`,
      `sum(${x}) FILTER (WHERE ${x} > ${this.literal(c)}) - min(${x})`,
      `(sum(${x}) / nullif(count(${x}), 0))::numeric(12,2)`,
      `round(sum(${x})::numeric / nullif(count(*), 0), 3)`,
      `abs(min(${x}) - max(${x}))`,
      `greatest(max(${x}), 0) + least(min(${x}), 1)`,
      `round(stddev(${x}), 4)`,
      `coalesce(max(${x}), 0) * 2 + 1`,
      `trunc(avg(${x}), 1)`,
      `max(${x}) > avg(${x})`,
      `count(*)::int`,
      `sum(${x})::float8 / nullif(count(*), 0)`,
      `round(avg(${x}))`,
    ];
    const chosen = this.some(forms, 1, 3).map((f, i) => `${f} AS v${i}`);
    const having = this.chance(0.4)
      ? ` HAVING ${this.pick([`count(*) > 1`, `sum(${x}) > ${this.literal(c)}`, `max(${x}) - min(${x}) >= ${this.int(0, 5)}`, `count(DISTINCT ${other.name}) > 1`, `avg(${x}) IS NOT NULL`])}`
      : '';
    if (this.chance(0.6)) {
      const g = this.groupKey(t);
      return `SELECT ${g.name}, ${chosen.join(', ')} FROM ${t.name}${this.where(t, 0.5)} GROUP BY ${g.name}${having} ORDER BY 1${this.paging()}`;
    }
    return `SELECT ${chosen.join(', ')} FROM ${t.name}${this.where(t, 0.5)}${having}`;
  }

  /** array_agg / string_agg without ORDER BY (any order is right; compared as multisets), and
   *  ordered ones with DESC keys. */
  looseAggregate(): string {
    if (this.mysql) return this.orderedAggregate(); // array_agg / string_agg: PostgreSQL only
    const t = this.table();
    const text = this.cols(t, 'text');
    const g = this.groupKey(t);
    const parts = [
      `array_agg(id)`,
      `array_agg(user_id)`,
      text.length > 0 ? `string_agg(${text[0]!.name}, '|')` : `string_agg(id::text, '|')`,
      `array_agg(id ORDER BY id DESC)`,
      text.length > 0
        ? `string_agg(${text[0]!.name}, ', ' ORDER BY ${text[0]!.name} DESC, id)`
        : `string_agg(id::text, ', ' ORDER BY id DESC)`,
      `array_agg(DISTINCT user_id)`,
    ];
    const chosen = this.some(parts, 1, 2);
    if (this.chance(0.5)) return `SELECT ${chosen.join(', ')} FROM ${t.name}${this.where(t, 0.7)}`;
    return `SELECT ${g.name}, ${chosen.join(', ')} FROM ${t.name}${this.where(t, 0.5)} GROUP BY ${g.name} ORDER BY 1`;
  }

  statistics(): string {
    const t = this.table();
    const c = this.pick(this.numeric(t).filter((x) => x.kind !== 'float'));
    const fns = this.some(['stddev', 'stddev_samp', 'stddev_pop', 'variance', 'var_samp', 'var_pop'], 1, 3);
    return `SELECT ${fns.map((f) => `${f}(${c.name})`).join(', ')} FROM ${t.name}${this.where(t, 0.5)}`;
  }

  distinctOn(): string {
    if (this.mysql) return this.grouped(); // no DISTINCT ON in MySQL
    const t = this.sharded();
    const c = this.pick(t.columns.filter((x) => x.name !== 'user_id' && x.name !== 'id'));
    return `SELECT DISTINCT ON (user_id) user_id, id, ${c.name} FROM ${t.name}${this.where(t, 0.5)} ORDER BY user_id, id${this.chance(0.5) ? ' DESC' : ''}${this.paging()}`;
  }

  setOperation(): string {
    const kind = this.pick(['int', 'text'] as const);
    const side = () => {
      const t = this.pick(MODEL_TABLES.filter((x) => x.columns.some((c) => c.kind === kind)));
      const c = this.pick(this.cols(t, kind));
      return `SELECT ${c.name} FROM ${t.name}${this.where(t, 0.8)}`;
    };
    const ops = [
      'UNION',
      'UNION ALL',
      'UNION',
      'UNION ALL',
      'INTERSECT',
      'EXCEPT',
      'INTERSECT ALL',
      'EXCEPT ALL',
    ];
    const op = this.pick(ops);
    const order = this.chance(0.5) ? ` ORDER BY 1${this.paging()}` : '';
    // Sometimes three branches with mixed operators (INTERSECT binds tighter than UNION/EXCEPT).
    const third = this.chance(0.25) ? ` ${this.pick(ops)} ${side()}` : '';
    return `${side()} ${op} ${side()}${third}${order}`;
  }

  windowed(): string {
    const t = this.sharded();
    const c = this.pick(this.numeric(t));
    const fn = this.pick([
      'row_number() OVER w',
      'rank() OVER w',
      `sum(${c.name}) OVER w`,
      `count(*) OVER (PARTITION BY user_id)`,
      `lag(id) OVER w`,
      // Windows whose partitions span shards: evaluated by the proxy over the gathered rows.
      `dense_rank() OVER w`,
      `lead(id, 2, 0) OVER w`,
      `avg(${c.name}) OVER w`,
      `max(${c.name}) OVER w`,
      `min(id) OVER (ORDER BY id DESC)`,
      `count(${c.name}) OVER ()`,
    ]);
    const partition = this.pick([
      'PARTITION BY user_id ',
      'PARTITION BY user_id ',
      '',
      `PARTITION BY ${this.groupKey(t).name} `,
    ]);
    const w = fn.includes('OVER w') ? ` WINDOW w AS (${partition}ORDER BY id)` : '';
    return `SELECT user_id, id, ${fn} AS v FROM ${t.name}${this.where(t, 0.5)}${w} ORDER BY user_id, id${this.paging()}`;
  }

  cte(): string {
    const t = this.table();
    const cols = this.some(t.columns, 1, 3).map((c) => c.name);
    if (!cols.includes('id')) cols.unshift('id');
    const inner = `SELECT ${cols.join(', ')} FROM ${t.name}${this.where(t, 0.8)}`;
    if (this.chance(0.5)) return `WITH x AS (${inner}) SELECT count(*) FROM x`;
    return `WITH x AS (${inner}) SELECT ${cols.join(', ')} FROM x${this.orderAll(cols.length)}${this.paging()}`;
  }

  subquery(): string {
    const a = this.sharded();
    const b = this.sharded();
    const cols = this.some(a.columns, 1, 3).map((c) => c.name);
    return `SELECT ${cols.join(', ')} FROM ${a.name} WHERE user_id IN (SELECT user_id FROM ${b.name}${this.where(b, 0.9)})${this.orderAll(cols.length)}${this.paging()}`;
  }

  /** A predicate over `alias.column`s of t (no shard-key shortcut: the alias must qualify it). */
  qualified(t: ModelTable, alias: string): string {
    if (t.sharded && this.chance(0.15)) return `${alias}.user_id = ${this.user()}`;
    const renamed = {
      ...t,
      sharded: false,
      columns: t.columns.map((c) => ({ ...c, name: `${alias}.${c.name}` })),
    };
    return this.predicate(renamed, 1);
  }

  /** Joins and IN subqueries of two sharded tables on columns that are not (only) the shard key:
   *  computed across shards (src/executor/broadcast-join.ts). */
  crossJoin(): string {
    const a = this.sharded();
    const b = this.sharded();
    const ints = (t: ModelTable) => t.columns.filter((c) => c.kind === 'int').map((c) => c.name);
    const ka = this.pick(ints(a));
    const kb = this.pick(ints(b));
    const filters: string[] = [];
    if (this.chance(0.5)) filters.push(this.qualified(a, 'x'));
    if (this.chance(0.5)) filters.push(this.qualified(b, 'y'));
    const where = filters.length ? ` WHERE ${filters.join(' AND ')}` : '';
    const on = `y.${kb} = x.${ka}${this.chance(0.2) ? ` AND ${this.qualified(b, 'y')}` : ''}`;
    const r = this.rnd();
    if (r < 0.25) {
      const sub = `SELECT ${kb} FROM ${b.name}${this.where(b, 0.6)}`;
      const cols = this.some(a.columns, 1, 3).map((c) => c.name);
      const not = this.chance(0.25) ? 'NOT ' : '';
      return `SELECT ${cols.join(', ')} FROM ${a.name} WHERE ${ka} ${not}IN (${sub})${this.chance(0.4) ? ` AND ${this.predicate({ ...a, sharded: false })}` : ''}${this.orderAll(cols.length)}${this.paging()}`;
    }
    const kind = this.pick(['JOIN', 'JOIN', 'LEFT JOIN']);
    const from = `FROM ${a.name} x ${kind} ${b.name} y ON ${on}`;
    if (r < 0.45) return `SELECT count(*), count(y.id) ${from}${where}`;
    if (r < 0.7) {
      const g = this.pick(ints(a));
      const n = this.pick(this.numeric(b));
      return `SELECT x.${g}, count(*) AS n, sum(y.${n.name}) AS s ${from}${where} GROUP BY x.${g} ORDER BY 1${this.paging()}`;
    }
    const ca = this.some(a.columns, 1, 2).map((c) => `x.${c.name}`);
    const cb = this.some(b.columns, 1, 2).map((c) => `y.${c.name} AS y_${c.name}`);
    const cols = [...ca, ...cb];
    return `SELECT ${cols.join(', ')} ${from}${where}${this.orderAll(cols.length)}${this.paging()}`;
  }

  // --- writes -----------------------------------------------------------------------------
  values(t: ModelTable, id: number, userId: number): { cols: string[]; vals: string[] } {
    const extra = t.columns.filter((c) => c.name !== 'id' && c.name !== 'user_id' && this.chance(0.8));
    return {
      cols: ['id', 'user_id', ...extra.map((c) => c.name)],
      vals: [String(id), String(userId), ...extra.map((c) => this.literal(c))],
    };
  }

  returning(t: ModelTable, update = false): string {
    if (!this.chance(0.5)) return '';
    if (this.mysql && update) return ''; // MariaDB has RETURNING on INSERT and DELETE only
    return ` RETURNING ${this.some(t.columns, 1, 3)
      .map((c) => c.name)
      .join(', ')}`;
  }

  check(t: ModelTable, userId: number): Statement['sql'] {
    const cols = t.columns.map((c) => c.name).join(', ');
    return `SELECT ${cols} FROM ${t.name} WHERE user_id = ${userId} ORDER BY id`;
  }

  remember(t: ModelTable, id: number, userId: number): void {
    let l = this.inserted.get(t.name);
    if (!l) this.inserted.set(t.name, (l = []));
    l.push({ id, userId });
  }

  insert(): string[] {
    const t = this.sharded();
    const rows = this.int(1, 3);
    const users: number[] = [];
    let cols: string[] = [];
    const tuples: string[] = [];
    const extra = this.some(
      t.columns.filter((c) => c.name !== 'id' && c.name !== 'user_id'),
      0,
    );
    for (let i = 0; i < rows; i++) {
      const id = this.nextId++;
      const u = this.user();
      users.push(u);
      this.remember(t, id, u);
      cols = ['id', 'user_id', ...extra.map((c) => c.name)];
      tuples.push(`(${[String(id), String(u), ...extra.map((c) => this.literal(c))].join(', ')})`);
    }
    return [
      `INSERT INTO ${t.name} (${cols.join(', ')}) VALUES ${tuples.join(', ')}${this.returning(t)}`,
      this.check(t, users[0]!),
    ];
  }

  upsert(): string[] {
    const t = this.pick(
      MODEL_TABLES.filter((x) => x.sharded && (this.inserted.get(x.name)?.length ?? 0) > 0),
    );
    if (!t) return this.insert();
    const { id, userId } = this.pick(this.inserted.get(t.name)!);
    const { cols, vals } = this.values(t, id, userId);
    const settable = cols.slice(2);
    if (this.mysql) {
      const ignore = settable.length === 0 || this.chance(0.3);
      const update = settable.map((c) => `${c} = VALUES(${c})`).join(', ');
      return [
        `INSERT ${ignore ? 'IGNORE ' : ''}INTO ${t.name} (${cols.join(', ')}) VALUES (${vals.join(', ')})${ignore ? '' : ` ON DUPLICATE KEY UPDATE ${update}`}${this.returning(t)}`,
        this.check(t, userId),
      ];
    }
    const action =
      settable.length === 0 || this.chance(0.3)
        ? 'DO NOTHING'
        : `DO UPDATE SET ${settable.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`;
    return [
      `INSERT INTO ${t.name} (${cols.join(', ')}) VALUES (${vals.join(', ')}) ON CONFLICT (id) ${action}${this.returning(t)}`,
      this.check(t, userId),
    ];
  }

  update(): string[] {
    const t = this.sharded();
    const c = this.pick(t.columns.filter((x) => x.name !== 'id' && x.name !== 'user_id'));
    const u = this.user();
    let value = this.literal(c);
    if (c.kind === 'num' || c.kind === 'int') value = this.pick([value, `${c.name} + 1`, `${c.name} * 2`]);
    if (c.kind === 'bool') value = this.pick([value, `NOT ${c.name}`]);
    const extra = this.chance(0.5) ? ` AND ${this.predicate({ ...t, sharded: false })}` : '';
    return [
      `UPDATE ${t.name} SET ${c.name} = ${value} WHERE user_id = ${u}${extra}${this.returning(t, true)}`,
      this.check(t, u),
    ];
  }

  remove(): string[] {
    const t = this.sharded();
    const mine = this.inserted.get(t.name);
    if (mine && mine.length > 0 && this.chance(0.7)) {
      const { id, userId } = this.pick(mine);
      return [
        `DELETE FROM ${t.name} WHERE user_id = ${userId} AND id = ${id}${this.returning(t)}`,
        this.check(t, userId),
      ];
    }
    const u = this.user();
    return [
      `DELETE FROM ${t.name} WHERE user_id = ${u} AND ${this.predicate({ ...t, sharded: false })}${this.returning(t)}`,
      this.check(t, u),
    ];
  }

  scatterWrite(): string[] {
    const t = this.sharded();
    const c = this.pick(t.columns.filter((x) => x.name !== 'id' && x.name !== 'user_id'));
    return [
      `UPDATE ${t.name} SET ${c.name} = ${this.literal(c)} WHERE ${this.predicate({ ...t, sharded: false })}`,
    ];
  }

  next(): string[] {
    const r = this.rnd();
    const forms: Array<[number, () => string | string[]]> = [
      [0.08, () => this.plain()],
      [0.08, () => this.aggregated()],
      [0.03, () => this.aggregateMix()],
      [0.02, () => this.looseAggregate()],
      [0.12, () => this.grouped()],
      [0.05, () => this.distinct()],
      [0.06, () => this.aggregateExpression()],
      [0.04, () => this.orderedAggregate()],
      [0.03, () => this.statistics()],
      [0.03, () => this.distinctOn()],
      [0.04, () => this.setOperation()],
      [0.04, () => this.windowed()],
      [0.04, () => this.cte()],
      [0.03, () => this.subquery()],
      [0.05, () => this.crossJoin()],
      [0.08, () => this.insert()],
      [0.04, () => this.upsert()],
      [0.08, () => this.update()],
      [0.05, () => this.remove()],
      [0.01, () => this.scatterWrite()],
    ];
    let acc = 0;
    for (const [w, f] of forms) {
      acc += w;
      if (r < acc) {
        const out = f();
        return Array.isArray(out) ? out : [out];
      }
    }
    return [this.plain()];
  }
}

/** `count` statements (a write's check query counts as one) from `seed`. */
export function generateStatements(count: number, options: GeneratorOptions): Statement[] {
  const gen = new Gen(options);
  const out: Statement[] = [];
  while (out.length < count) {
    for (const sql of gen.next()) {
      if (out.length >= count) break;
      out.push({ sql, source: `generated seed ${options.seed} #${out.length + 1}` });
    }
  }
  return out;
}
