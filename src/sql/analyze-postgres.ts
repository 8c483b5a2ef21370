// StatementFacts from the real PostgreSQL grammar (libpg-query). Values are never copied into the
// facts: constants point at the fingerprint's literal list by index, parameters by number, so the
// facts of a shape can be cached and reused with other values.
import { parseSync } from 'libpg-query';
import {
  type AggregateFn,
  emptyStatementFacts,
  type InsertShape,
  type KeyCondition,
  type OrderItem,
  type OutputColumn,
  type SelectShape,
  type StatementFacts,
  type TransactionAction,
  type UtilityKind,
  type ValueRef,
} from './facts.js';
import type { Literal } from './fingerprint.js';

type Node = Record<string, unknown>;

const DDL = new Set([
  'CreateStmt',
  'AlterTableStmt',
  'DropStmt',
  'TruncateStmt',
  'IndexStmt',
  'ViewStmt',
  'CreateTableAsStmt',
  'RenameStmt',
  'CommentStmt',
  'GrantStmt',
  'GrantRoleStmt',
  'CreateSeqStmt',
  'AlterSeqStmt',
  'CreateFunctionStmt',
  'CreateSchemaStmt',
  'CreateExtensionStmt',
  'AlterOwnerStmt',
  'CreateRoleStmt',
  'AlterRoleStmt',
  'DropRoleStmt',
  'CreateTrigStmt',
  'CreateDomainStmt',
  'CompositeTypeStmt',
  'CreateEnumStmt',
  'AlterEnumStmt',
  'DefineStmt',
  'CreatedbStmt',
  'DropdbStmt',
  'ReindexStmt',
  'ClusterStmt',
  'RuleStmt',
  'CreatePolicyStmt',
  'CreatePublicationStmt',
  'AlterPublicationStmt',
  'CreateSubscriptionStmt',
  'DropSubscriptionStmt',
  'RefreshMatViewStmt',
  'AlterDefaultPrivilegesStmt',
  'CreateStatsStmt',
  'AlterFunctionStmt',
  'AlterObjectSchemaStmt',
  'SecLabelStmt',
  'CreateCastStmt',
  'CreateOpClassStmt',
]);

const UTILITY: Record<string, UtilityKind> = {
  ListenStmt: 'listen',
  UnlistenStmt: 'unlisten',
  NotifyStmt: 'notify',
  VacuumStmt: 'vacuum',
  ExplainStmt: 'explain',
  LockStmt: 'lock',
  PrepareStmt: 'prepare',
  ExecuteStmt: 'execute',
  DeallocateStmt: 'deallocate',
  DeclareCursorStmt: 'declare_cursor',
  FetchStmt: 'fetch',
  ClosePortalStmt: 'close_cursor',
  DoStmt: 'do',
  CallStmt: 'call',
  CheckPointStmt: 'checkpoint',
  LoadStmt: 'other',
};

const AGGREGATES = new Set<AggregateFn>(['count', 'sum', 'min', 'max', 'avg']);
const SESSION_LOCK_FUNCTIONS = new Set([
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
]);

function str(node: unknown): string | null {
  const s = (node as { String?: { sval?: string } })?.String;
  return s?.sval ?? null;
}

function nodeType(node: unknown): [string, Node] | null {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return null;
  const keys = Object.keys(node);
  if (keys.length !== 1) return null;
  const k = keys[0]!;
  if (k[0]! < 'A' || k[0]! > 'Z') return null;
  return [k, (node as Node)[k] as Node];
}

/** Visits every typed node below `root`. */
function walk(root: unknown, visit: (type: string, body: Node) => void): void {
  const stack: unknown[] = [root];
  while (stack.length) {
    const cur = stack.pop();
    if (!cur || typeof cur !== 'object') continue;
    if (Array.isArray(cur)) {
      for (const x of cur) stack.push(x);
      continue;
    }
    const t = nodeType(cur);
    if (t) {
      visit(t[0], t[1]);
      stack.push(t[1]);
      continue;
    }
    for (const v of Object.values(cur)) if (v && typeof v === 'object') stack.push(v);
  }
}

class LiteralMap {
  private readonly byOffset = new Map<number, number>();
  constructor(
    readonly literals: Literal[],
    private readonly sql: string,
  ) {
    for (let i = 0; i < literals.length; i++) this.byOffset.set(literals[i]!.offset, i);
  }

  ref(location: number | undefined): ValueRef | null {
    if (location === undefined) return null;
    const i = this.byOffset.get(location);
    if (i !== undefined) return { kind: 'literal', index: i };
    // The grammar folds "-5" into one constant located at the minus sign.
    if (this.sql[location] === '-') {
      for (let j = location + 1; j < this.sql.length && j < location + 64; j++) {
        const k = this.byOffset.get(j);
        if (k !== undefined) return { kind: 'literal', index: k, negate: true };
        if (!/\s/.test(this.sql[j]!)) break;
      }
    }
    return null;
  }
}

function valueRef(node: unknown, lits: LiteralMap): ValueRef | null {
  const t = nodeType(node);
  if (!t) return null;
  const [type, body] = t;
  if (type === 'TypeCast') return valueRef(body.arg, lits);
  if (type === 'ParamRef') return { kind: 'param', index: body.number as number };
  if (type === 'A_Const') {
    if (body.isnull) return { kind: 'const', value: null };
    if (body.boolval !== undefined) {
      const b = (body.boolval as { boolval?: boolean }).boolval;
      return { kind: 'const', value: b ? 't' : 'f' };
    }
    return lits.ref(body.location as number | undefined);
  }
  return null;
}

interface Scope {
  /** alias or name -> real table */
  aliases: Map<string, string>;
  tables: string[];
}

function scopeOf(fromClause: unknown, cteNames: Set<string>): Scope {
  const aliases = new Map<string, string>();
  const tables: string[] = [];
  const visitFrom = (n: unknown) => {
    const t = nodeType(n);
    if (!t) return;
    const [type, body] = t;
    if (type === 'RangeVar') {
      const name = (body.relname as string).toLowerCase();
      if (!body.schemaname && cteNames.has(name)) return;
      tables.push(name);
      aliases.set(name, name);
      const alias = (body.alias as { aliasname?: string } | undefined)?.aliasname;
      if (alias) aliases.set(alias.toLowerCase(), name);
    } else if (type === 'JoinExpr') {
      visitFrom(body.larg);
      visitFrom(body.rarg);
    }
  };
  for (const f of (fromClause as unknown[]) ?? []) visitFrom(f);
  return { aliases, tables };
}

function columnOf(node: unknown, scope: Scope): Array<{ table: string; column: string }> {
  const t = nodeType(node);
  if (!t) return [];
  if (t[0] === 'TypeCast') return columnOf(t[1].arg, scope);
  if (t[0] !== 'ColumnRef') return [];
  const fields = (t[1].fields as unknown[]).map(str);
  if (fields.some((f) => f === null)) return [];
  if (fields.length === 1) return scope.tables.map((table) => ({ table, column: fields[0]!.toLowerCase() }));
  const qualifier = fields[fields.length - 2]!.toLowerCase();
  const table = scope.aliases.get(qualifier);
  return table ? [{ table, column: fields[fields.length - 1]!.toLowerCase() }] : [];
}

/** Equality conditions in the top-level AND of a WHERE/ON, with join equalities propagated. */
function keyConditions(where: unknown[], scope: Scope, lits: LiteralMap): KeyCondition[] {
  const out: KeyCondition[] = [];
  const joins: Array<[{ table: string; column: string }, { table: string; column: string }]> = [];
  const conjuncts: unknown[] = [];
  const flatten = (n: unknown) => {
    const t = nodeType(n);
    if (t && t[0] === 'BoolExpr' && t[1].boolop === 'AND_EXPR')
      for (const a of t[1].args as unknown[]) flatten(a);
    else if (n) conjuncts.push(n);
  };
  for (const w of where) flatten(w);
  for (const c of conjuncts) {
    const t = nodeType(c);
    if (t?.[0] !== 'A_Expr') continue;
    const e = t[1];
    const op = str((e.name as unknown[] | undefined)?.[0]);
    if (op !== '=') continue;
    const kind = e.kind as string;
    if (kind === 'AEXPR_OP') {
      let cols = columnOf(e.lexpr, scope);
      let value = valueRef(e.rexpr, lits);
      if (!cols.length || !value) {
        const rc = columnOf(e.rexpr, scope);
        const lv = valueRef(e.lexpr, lits);
        if (rc.length && lv) {
          cols = rc;
          value = lv;
        } else {
          const lc = columnOf(e.lexpr, scope);
          if (lc.length === 1 && rc.length === 1) joins.push([lc[0]!, rc[0]!]);
          continue;
        }
      }
      for (const col of cols) out.push({ ...col, values: [value] });
    } else if (kind === 'AEXPR_IN') {
      const cols = columnOf(e.lexpr, scope);
      const list =
        nodeType(e.rexpr)?.[0] === 'List'
          ? (nodeType(e.rexpr)![1].items as unknown[])
          : (e.rexpr as unknown[]);
      const values = (Array.isArray(list) ? list : []).map((v) => valueRef(v, lits));
      if (!cols.length || values.some((v) => v === null)) continue;
      for (const col of cols) out.push({ ...col, values: values as ValueRef[] });
    } else if (kind === 'AEXPR_OP_ANY') {
      const cols = columnOf(e.lexpr, scope);
      if (!cols.length) continue;
      const r = nodeType(e.rexpr);
      const inner = r && r[0] === 'TypeCast' ? nodeType(r[1].arg) : r;
      if (inner?.[0] === 'ParamRef') {
        for (const col of cols) out.push({ ...col, values: [], arrayParam: inner[1].number as number });
      } else if (inner?.[0] === 'A_ArrayExpr') {
        const values = ((inner[1].elements as unknown[]) ?? []).map((v) => valueRef(v, lits));
        if (values.some((v) => v === null)) continue;
        for (const col of cols) out.push({ ...col, values: values as ValueRef[] });
      }
    }
  }
  // a.k = b.k and a.k = v  =>  b.k = v (co-located joins route like their key).
  for (let round = 0; round < 2; round++) {
    for (const [a, b] of joins) {
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        const known = out.find((k) => k.table === from.table && k.column === from.column);
        if (known && !out.some((k) => k.table === to.table && k.column === to.column)) {
          out.push({
            ...to,
            values: known.values,
            ...(known.arrayParam ? { arrayParam: known.arrayParam } : {}),
          });
        }
      }
    }
  }
  return out;
}

function stripLocations(node: unknown): string {
  return JSON.stringify(node, (k, v: unknown) => (k === 'location' ? undefined : v));
}

function selectShape(sel: Node, lits: LiteralMap): SelectShape {
  const outputs: OutputColumn[] = [];
  const targetExprs: string[] = [];
  let hasAggregates = false;
  let unmergeable: string | null = null;
  for (const rt of (sel.targetList as unknown[]) ?? []) {
    const r = nodeType(rt)?.[1] ?? {};
    const val = r.val;
    // count(*)::int is still a count: look through casts.
    let v = nodeType(val);
    while (v?.[0] === 'TypeCast') v = nodeType(v[1].arg);
    const col: OutputColumn = { name: (r.name as string) ?? '?column?' };
    if (v?.[0] === 'ColumnRef') {
      const fields = v[1].fields as unknown[];
      if (nodeType(fields[fields.length - 1])?.[0] === 'A_Star') col.star = true;
      else if (!r.name) col.name = str(fields[fields.length - 1]) ?? '?column?';
    } else if (v?.[0] === 'FuncCall') {
      const fname = str((v[1].funcname as unknown[]).at(-1))?.toLowerCase() ?? '';
      if (!r.name) col.name = fname;
      if (v[1].over) unmergeable = 'window functions';
      if (AGGREGATES.has(fname as AggregateFn)) {
        col.aggregate = fname as AggregateFn;
        if (v[1].agg_distinct) col.aggregateDistinct = true;
        hasAggregates = true;
      }
    }
    outputs.push(col);
    targetExprs.push(stripLocations(val));
  }
  const positionOf = (node: unknown): number | null => {
    const t = nodeType(node);
    if (t?.[0] === 'A_Const' && t[1].ival !== undefined) {
      const n = (t[1].ival as { ival?: number }).ival ?? 0;
      return n >= 1 && n <= outputs.length ? n : null;
    }
    if (t?.[0] === 'ColumnRef') {
      const fields = (t[1].fields as unknown[]).map(str);
      if (fields.length === 1 && fields[0]) {
        const i = outputs.findIndex((o) => o.name.toLowerCase() === fields[0]!.toLowerCase());
        if (i >= 0) return i + 1;
      }
    }
    const key = stripLocations(node);
    const i = targetExprs.indexOf(key);
    return i >= 0 ? i + 1 : null;
  };
  const orderBy: OrderItem[] = ((sel.sortClause as unknown[]) ?? []).map((s) => {
    const b = nodeType(s)?.[1] ?? {};
    const desc = b.sortby_dir === 'SORTBY_DESC';
    const nulls = b.sortby_nulls as string;
    const position = positionOf(b.node);
    return {
      position,
      name: position ? outputs[position - 1]!.name : null,
      desc,
      nullsFirst: nulls === 'SORTBY_NULLS_FIRST' ? true : nulls === 'SORTBY_NULLS_LAST' ? false : desc,
    };
  });
  const distinctClause = sel.distinctClause as unknown[] | undefined;
  if (distinctClause?.some((d) => d && Object.keys(d as object).length > 0)) unmergeable = 'DISTINCT ON';
  if (sel.havingClause) unmergeable = unmergeable ?? 'HAVING';
  if (sel.op && sel.op !== 'SETOP_NONE') unmergeable = 'UNION/INTERSECT/EXCEPT';
  return {
    outputs,
    orderBy,
    limit: sel.limitCount ? valueRef(sel.limitCount, lits) : null,
    offset: sel.limitOffset ? valueRef(sel.limitOffset, lits) : null,
    groupBy: ((sel.groupClause as unknown[]) ?? []).map(positionOf),
    distinct: distinctClause !== undefined,
    hasAggregates,
    unmergeable,
  };
}

const emptyFacts = emptyStatementFacts;

const TXN_ACTIONS: Record<string, TransactionAction> = {
  TRANS_STMT_BEGIN: 'begin',
  TRANS_STMT_START: 'begin',
  TRANS_STMT_COMMIT: 'commit',
  TRANS_STMT_ROLLBACK: 'rollback',
  TRANS_STMT_SAVEPOINT: 'savepoint',
  TRANS_STMT_RELEASE: 'release',
  TRANS_STMT_ROLLBACK_TO: 'rollback_to',
  TRANS_STMT_PREPARE: 'prepare',
  TRANS_STMT_COMMIT_PREPARED: 'commit_prepared',
  TRANS_STMT_ROLLBACK_PREPARED: 'rollback_prepared',
};

function constText(node: unknown): string | null {
  const t = nodeType(node);
  if (!t) return null;
  if (t[0] === 'TypeCast') return constText(t[1].arg);
  if (t[0] !== 'A_Const') return null;
  const b = t[1];
  if (b.sval) return (b.sval as { sval?: string }).sval ?? '';
  if (b.ival !== undefined) return String((b.ival as { ival?: number }).ival ?? 0);
  if (b.fval) return (b.fval as { fval?: string }).fval ?? '';
  if (b.boolval !== undefined) return (b.boolval as { boolval?: boolean }).boolval ? 'on' : 'off';
  return null;
}

/** Analyzes one parsed statement. `sql` is the whole text (locations are relative to it). */
function analyzeStatement(stmt: Node, sql: string, literals: Literal[]): StatementFacts {
  const t = nodeType(stmt);
  if (!t) return emptyFacts('empty');
  const [type, body] = t;
  const lits = new LiteralMap(literals, sql);
  const facts = emptyFacts('read');
  // Tables, functions, locking and CTEs anywhere in the statement.
  const cteNames = new Set<string>();
  const tables = new Set<string>();
  const writeTables = new Set<string>();
  const functions = new Set<string>();
  walk(stmt, (nt, nb) => {
    if (nt === 'CommonTableExpr') {
      cteNames.add((nb.ctename as string).toLowerCase());
      const q = nodeType(nb.ctequery)?.[0];
      if (q === 'InsertStmt' || q === 'UpdateStmt' || q === 'DeleteStmt' || q === 'MergeStmt')
        facts.modifyingCte = true;
    } else if (nt === 'FuncCall') {
      const name = str((nb.funcname as unknown[]).at(-1));
      if (name) functions.add(name.toLowerCase());
    } else if (nt === 'SelectStmt' && nb.lockingClause) {
      facts.locking = true;
    } else if (nt === 'InsertStmt' || nt === 'UpdateStmt' || nt === 'DeleteStmt' || nt === 'MergeStmt') {
      // The target relation is a bare RangeVar body (no type wrapper), so the RangeVar walk
      // below does not see it: count it here.
      const rel = nodeType(nb.relation)?.[1] ?? (nb.relation as Node | undefined);
      const name = (rel?.relname as string | undefined)?.toLowerCase();
      if (name) writeTables.add(name);
    }
  });
  walk(stmt, (nt, nb) => {
    if (nt === 'RangeVar') {
      const name = (nb.relname as string).toLowerCase();
      if (nb.schemaname || !cteNames.has(name)) tables.add(name);
    }
  });
  for (const n of writeTables) if (!cteNames.has(n)) tables.add(n);
  facts.tables = [...tables].sort();
  facts.writeTables = [...writeTables].filter((n) => !cteNames.has(n)).sort();
  facts.functions = [...functions].sort();
  if ([...functions].some((f) => SESSION_LOCK_FUNCTIONS.has(f))) facts.pinsSession = true;

  switch (type) {
    case 'SelectStmt': {
      facts.kind = facts.locking || facts.modifyingCte ? 'write' : 'read';
      const scope = scopeOf(body.fromClause, cteNames);
      const wheres = [body.whereClause, ...joinQuals(body.fromClause)].filter(Boolean);
      facts.keyConditions = keyConditions(wheres, scope, lits);
      facts.select = selectShape(body, lits);
      if (body.intoClause) {
        facts.kind = 'ddl';
        const into = nodeType((body.intoClause as Node).rel)?.[1] ?? ((body.intoClause as Node).rel as Node);
        if (into?.relpersistence === 't') facts.pinsSession = true;
      }
      return facts;
    }
    case 'InsertStmt': {
      facts.kind = 'write';
      const rel = body.relation as Node;
      const table = (rel.relname as string).toLowerCase();
      const columns = ((body.cols as unknown[]) ?? []).map((c) =>
        ((nodeType(c)?.[1].name as string) ?? '').toLowerCase(),
      );
      const sel = nodeType(body.selectStmt)?.[1];
      const values = sel?.valuesLists as unknown[] | undefined;
      const shape: InsertShape = {
        table,
        columns,
        rows: (values ?? []).map((row) =>
          ((nodeType(row)?.[1].items as unknown[]) ?? []).map((v) => valueRef(v, lits)),
        ),
        fromSelect: !values,
        onConflict: body.onConflictClause !== undefined,
        returning: body.returningList !== undefined,
      };
      facts.insert = shape;
      return facts;
    }
    case 'UpdateStmt':
    case 'DeleteStmt': {
      facts.kind = 'write';
      const rel = body.relation as Node;
      const scope = scopeOf(
        [{ RangeVar: rel }, ...(((body.fromClause ?? body.usingClause) as unknown[]) ?? [])],
        cteNames,
      );
      facts.keyConditions = keyConditions([body.whereClause].filter(Boolean), scope, lits);
      return facts;
    }
    case 'MergeStmt':
      facts.kind = 'write';
      return facts;
    case 'TransactionStmt': {
      facts.kind = 'transaction';
      const action = TXN_ACTIONS[body.kind as string] ?? 'begin';
      let readOnly = false;
      for (const o of (body.options as unknown[]) ?? []) {
        const d = nodeType(o)?.[1];
        if (d?.defname === 'transaction_read_only')
          readOnly = constText(d.arg) === '1' || constText(d.arg) === 'on';
      }
      facts.transaction = { action, readOnly };
      return facts;
    }
    case 'VariableSetStmt': {
      const name = ((body.name as string | undefined) ?? '').toLowerCase();
      const kind = body.kind as string;
      if (name.startsWith('shardgate.')) {
        facts.kind = 'shardgate';
        const value = (body.args as unknown[] | undefined)?.map(constText).join(', ') ?? null;
        facts.shardgate =
          kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT'
            ? { command: 'reset', name: name.slice(10) }
            : { command: 'set', name: name.slice(10), value };
        return facts;
      }
      facts.kind = 'session';
      if (
        kind === 'VAR_SET_MULTI' ||
        name === 'transaction' ||
        name.startsWith('transaction_') ||
        name === 'session characteristics'
      ) {
        // SET TRANSACTION ... applies to the current transaction only.
        facts.session = { action: 'set', name, value: null, local: true };
        return facts;
      }
      if (kind === 'VAR_RESET_ALL') {
        facts.session = { action: 'reset', name: 'all', value: null, local: false };
      } else if (kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT') {
        facts.session = { action: 'reset', name, value: null, local: Boolean(body.is_local) };
      } else if (kind === 'VAR_SET_CURRENT') {
        facts.session = { action: 'set', name, value: null, local: true };
      } else {
        const args = (body.args as unknown[] | undefined) ?? [];
        const parts = args.map((a) => {
          const c = constText(a);
          return c ?? '';
        });
        facts.session = { action: 'set', name, value: parts.join(', '), local: Boolean(body.is_local) };
      }
      return facts;
    }
    case 'VariableShowStmt': {
      const name = ((body.name as string) ?? '').toLowerCase();
      if (name.startsWith('shardgate.')) {
        facts.kind = 'shardgate';
        facts.shardgate = { command: 'show', name: name.slice(10) };
        return facts;
      }
      facts.kind = 'session';
      facts.session = { action: 'show', name, value: null, local: false };
      return facts;
    }
    case 'DiscardStmt': {
      facts.kind = 'session';
      const target = body.target as string;
      const name =
        target === 'DISCARD_ALL'
          ? 'all'
          : target === 'DISCARD_PLANS'
            ? 'plans'
            : target === 'DISCARD_TEMP'
              ? 'temp'
              : 'sequences';
      facts.session = { action: 'discard', name, value: null, local: false };
      return facts;
    }
    case 'CopyStmt': {
      facts.kind = 'utility';
      facts.utility = body.is_from ? 'copy_from' : 'copy_to';
      if (body.is_from) facts.writeTables = facts.tables.slice();
      return facts;
    }
    case 'ExplainStmt': {
      const inner = analyzeStatement(body.query as Node, sql, literals);
      inner.utility = 'explain';
      // EXPLAIN ANALYZE of a write runs the write.
      const analyze = ((body.options as unknown[]) ?? []).some((o) => nodeType(o)?.[1].defname === 'analyze');
      if (!analyze && inner.kind === 'write') inner.kind = 'read';
      return inner;
    }
    default:
      break;
  }
  if (DDL.has(type)) {
    facts.kind = 'ddl';
    if (
      type === 'CreateStmt' &&
      (nodeType(body.relation)?.[1] ?? (body.relation as Node))?.relpersistence === 't'
    ) {
      facts.pinsSession = true;
    }
    if (type === 'CreateTableAsStmt') {
      const into = body.into as Node | undefined;
      const rel = (nodeType(into?.rel)?.[1] ?? into?.rel) as Node | undefined;
      if (rel?.relpersistence === 't') facts.pinsSession = true;
    }
    return facts;
  }
  facts.kind = 'utility';
  facts.utility = UTILITY[type] ?? 'other';
  if (type === 'ListenStmt' || type === 'PrepareStmt' || type === 'LoadStmt') facts.pinsSession = true;
  if (type === 'DeclareCursorStmt' && ((body.options as number) & 0x0020) !== 0) facts.pinsSession = true;
  return facts;
}

function joinQuals(fromClause: unknown): unknown[] {
  const out: unknown[] = [];
  const visit = (n: unknown) => {
    const t = nodeType(n);
    if (t?.[0] === 'JoinExpr') {
      if (t[1].jointype === 'JOIN_INNER' && t[1].quals) out.push(t[1].quals);
      visit(t[1].larg);
      visit(t[1].rarg);
    }
  };
  for (const f of (fromClause as unknown[]) ?? []) visit(f);
  return out;
}

export interface ParsedText {
  statements: StatementFacts[];
}

/** Parses the whole text once and returns facts per statement; a syntax error gives one 'unknown'. */
export function analyzePostgres(sql: string, literals: Literal[]): ParsedText {
  let tree: { stmts?: Array<{ stmt?: Node }> };
  try {
    tree = parseSync(sql) as typeof tree;
  } catch (err) {
    const f = emptyFacts('unknown');
    f.parseError = err instanceof Error ? err.message : String(err);
    return { statements: [f] };
  }
  const stmts = tree.stmts ?? [];
  if (stmts.length === 0) return { statements: [emptyFacts('empty')] };
  return {
    statements: stmts.map((s) => (s.stmt ? analyzeStatement(s.stmt, sql, literals) : emptyFacts('empty'))),
  };
}
