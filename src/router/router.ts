// The routing facade the front ends call: text (and bind parameters) in, planned statements out.
// It joins the analyzer (fingerprint cache + libpg-query), the pure planner and the live
// topology view; nothing here does I/O.
import { ShardgateError } from '../errors.js';
import {
  type AnalyzedQuery,
  type AnalyzeOptions,
  type QueryAnalyzer,
  resolveValue,
} from '../sql/analyzer.js';
import { decodeBindParams, parseTextArray } from '../sql/bind-params.js';
import type { ScatterRewrite, ValueRef } from '../sql/facts.js';
import { emptyStatementFacts, type StatementFacts } from '../sql/facts.js';
import { type IdFill, inlineInsertRows } from '../sql/insert-rows.js';
import { rewriteForScatter } from '../sql/scatter-rewrite.js';
import {
  type CompensationNote,
  compensationFor,
  pgLiteral,
  type QuoteLiteral,
} from '../transactions/compensation-template.js';
import {
  addShardPlan,
  DEFAULT_DECISION_CACHE_BYTES,
  DecisionCache,
  type DecisionCacheOptions,
  type DecisionTemplate,
  decisionTemplate,
  fingerprintKey,
  hasHints,
  replayDecision,
  textKey,
} from './decision-cache.js';
import type { RoutingSession, TopologyView } from './inputs.js';
import type { Plan } from './plan.js';
import { planStatement } from './planner.js';
import { SnowflakeIds } from './snowflake-ids.js';

export interface PlannedStatement {
  facts: StatementFacts;
  plan: Plan;
  sql: string;
  /** The text's fingerprint (literals out), for per-statement statistics. */
  fingerprint?: string;
  /** A write inside a transaction: what undoes it under crossShard: compensate (or why nothing does). */
  compensation?: CompensationNote;
}

export interface BindInput {
  values: Array<Buffer | null>;
  formats: number[];
  types: number[];
}

const EMPTY_FACTS: StatementFacts = emptyStatementFacts('empty');

/** Any SQL dialect's analyzer: text in, facts out (QueryAnalyzer, MysqlQueryAnalyzer). */
export interface StatementAnalyzer {
  analyze(sql: string, options?: AnalyzeOptions): AnalyzedQuery;
}

/** What the router needs of a topology: the current view (RuntimeTopology, MysqlTopology). */
export interface TopologyViewSource {
  view(): TopologyView;
}

/** Dialect-specific text rewrites; the defaults are PostgreSQL's. */
export interface RouterDialect {
  rewriteForScatter(sql: string, rewrite: ScatterRewrite): string;
  /** A multi-row INSERT reduced to some of its rows, parameters inlined as literals. */
  inlineInsertRows(sql: string, rows: number[], params: Array<string | null>, fill?: IdFill): string;
  /** A value filled into a compensating template (crossShard: compensate). */
  quoteLiteral: QuoteLiteral;
}

const POSTGRES_DIALECT: RouterDialect = { rewriteForScatter, inlineInsertRows, quoteLiteral: pgLiteral };

export class Router<A extends StatementAnalyzer = QueryAnalyzer> {
  private readonly dialect: RouterDialect;
  private ids: SnowflakeIds | null = null;

  /** Routing decisions per statement text, session state and topology version (decision-cache.ts). */
  readonly decisions: DecisionCache;

  constructor(
    readonly analyzer: A,
    private readonly topology: TopologyViewSource,
    dialect: Partial<RouterDialect> = {},
    decisions: DecisionCacheOptions = { entries: 10_000, bytes: DEFAULT_DECISION_CACHE_BYTES },
  ) {
    this.dialect = { ...POSTGRES_DIALECT, ...dialect };
    this.decisions = new DecisionCache(decisions);
  }

  /**
   * Parameters already decoded to text (MySQL's binary protocol): every statement of the text,
   * planned in order, `?` number n resolving to params[n - 1]. A prepared statement's caller may
   * pass the text's analysis from an earlier call (it depends on the text only).
   */
  planWithValues(
    sql: string,
    session: RoutingSession,
    params: Array<string | null>,
    analyzed?: AnalyzedQuery,
  ): PlannedStatement[] {
    return this.plan(sql, session, null, params, analyzed);
  }

  /** Simple protocol: every statement of the text, planned in order. */
  planSimple(sql: string, session: RoutingSession): PlannedStatement[] {
    return this.plan(sql, session, null);
  }

  /** Extended protocol: one statement with its bind parameters. */
  planExtended(sql: string, session: RoutingSession, bind: BindInput): PlannedStatement[] {
    return this.plan(sql, session, bind);
  }

  /** Parse/Describe without Execute: no data touched; the session's shard or the default primary. */
  planDescribeOnly(sql: string, session: RoutingSession): PlannedStatement {
    return { facts: EMPTY_FACTS, plan: this.defaultPlan(session, 'describe only'), sql };
  }

  planUtilityOnDefault(session: RoutingSession): PlannedStatement {
    return { facts: EMPTY_FACTS, plan: this.defaultPlan(session, 'function call'), sql: '' };
  }

  private defaultPlan(session: RoutingSession, reason: string): Plan {
    const view = this.topology.view();
    const shardName = session.transactionShard ?? view.defaultShard;
    const shard = view.shards.find((s) => s.name === shardName) ?? view.shards[0]!;
    const server = session.transactionServer ?? shard.primary.name;
    return {
      type: 'single',
      target: { shard: shard.name, server, role: server === shard.primary.name ? 'primary' : 'replica' },
      write: false,
      level: null,
      dataTypes: [],
      topologyVersion: view.version,
      reasons: [reason],
      keys: [],
    };
  }

  private plan(
    sql: string,
    session: RoutingSession,
    bind: BindInput | null,
    textParams: Array<string | null> | null = null,
    known?: AnalyzedQuery,
  ): PlannedStatement[] {
    const view = this.topology.view();
    const params = textParams ?? (bind ? decodeBindParams(bind.values, bind.formats, bind.types) : []);
    const cache = view.routing.enabled && this.decisions.enabled ? this.decisions : null;
    let key: string | null = null;
    let template: DecisionTemplate | undefined;
    if (cache) {
      cache.sync(view);
      key = textKey(session, sql);
      template = cache.get(key);
      if (template?.replayable) {
        const hit = this.replay(template, template.analyzed, sql, session, bind, params, view);
        if (hit) return [hit];
      }
    }
    // A text without literals: its cached analysis holds whether or not its decision does.
    const analyzed =
      template?.analyzed ??
      known ??
      this.analyzer.analyze(sql, session.backslashQuotes ? { backslashQuotes: true } : undefined);
    if (cache && !template && analyzed.literals.length > 0) {
      // A fingerprint leaves comments out: a text with hints is never answered by, nor added to,
      // the decision of its fingerprint.
      key = hasHints(analyzed.facts.hints) ? null : fingerprintKey(session, analyzed.fingerprint);
      template = key === null ? undefined : cache.get(key);
      if (template?.replayable && template.analyzed.literals.length === analyzed.literals.length) {
        const hit = this.replay(template, analyzed, sql, session, bind, params, view);
        if (hit) return [hit];
      }
    }
    const planned = this.planAnalyzed(analyzed, sql, session, bind, textParams, params, view);
    if (cache && key !== null && planned.length === 1) {
      const plan = planned[0]!.plan;
      if (template) {
        if (addShardPlan(template, plan, session, view)) cache.set(key, template);
      } else {
        const made = decisionTemplate(analyzed, plan, session, view);
        if (made) cache.set(key, made);
      }
    }
    return planned;
  }

  /** A cached decision for this execution, or null when it has to be planned afresh. */
  private replay(
    template: DecisionTemplate,
    analyzed: AnalyzedQuery,
    sql: string,
    session: RoutingSession,
    bind: BindInput | null,
    params: Array<string | null>,
    view: TopologyView,
  ): PlannedStatement | null {
    const facts = analyzed.facts.statements[0];
    if (facts === undefined || analyzed.facts.statements.length !== 1) return null;
    const { literals } = analyzed;
    const resolve = (ref: ValueRef) => resolveValue(ref, literals, params);
    const plan = replayDecision(template, resolve, session, view);
    if (plan === null) return null;
    return this.finish(
      { facts, plan, sql, fingerprint: analyzed.fingerprint },
      session,
      bind,
      params,
      resolve,
      view,
      1,
    );
  }

  private planAnalyzed(
    analyzed: AnalyzedQuery,
    sql: string,
    session: RoutingSession,
    bind: BindInput | null,
    textParams: Array<string | null> | null,
    params: Array<string | null>,
    view: TopologyView,
  ): PlannedStatement[] {
    const { literals } = analyzed;
    const resolve = (ref: Parameters<typeof resolveValue>[0]) => resolveValue(ref, literals, params);
    const resolveArray = (index: number) => {
      const raw = params[index - 1];
      return raw === undefined || raw === null ? null : parseTextArray(raw);
    };
    const statements = analyzed.facts.statements.length ? analyzed.facts.statements : [EMPTY_FACTS];
    if (!view.routing.enabled) {
      return statements.map((facts) => ({ facts, plan: this.defaultPlan(session, 'routing disabled'), sql }));
    }
    return statements.map((facts) => {
      let explainInner: Plan | undefined;
      if (facts.shardgate?.command === 'explain') {
        const inner = this.plan(facts.shardgate.statement, session, bind, textParams);
        explainInner = inner[0]?.plan;
      }
      let plan = planStatement({
        facts,
        hints: analyzed.facts.hints,
        resolve,
        resolveArray,
        session,
        topology: view,
        explainInner,
      });
      if (plan.type === 'scatter' && plan.rewrite) {
        try {
          plan = { ...plan, rewrittenSql: this.dialect.rewriteForScatter(sql, plan.rewrite) };
        } catch (err) {
          const e =
            err instanceof ShardgateError
              ? err
              : new ShardgateError('SCATTER_UNSUPPORTED', { detail: String(err) });
          plan = { ...plan, type: 'error', code: e.code, params: e.params } as unknown as Plan;
        }
      }
      if (plan.type === 'split-insert' && plan.fillIds) {
        const ids = this.idGenerator(view.routing.instanceId);
        const values = facts.insert!.rows.map(() => ids.next().toString());
        plan = { ...plan, fillIds: { column: plan.fillIds.column, values } };
      }
      const out: PlannedStatement = { facts, plan, sql, fingerprint: analyzed.fingerprint };
      return this.finish(out, session, bind, params, resolve, view, statements.length);
    });
  }

  /** A write inside a transaction (or a multi-statement text): what would undo it, per execution. */
  private finish(
    out: PlannedStatement,
    session: RoutingSession,
    bind: BindInput | null,
    params: Array<string | null>,
    resolve: (ref: ValueRef) => string | null,
    view: TopologyView,
    statementCount: number,
  ): PlannedStatement {
    const { facts, plan } = out;
    if ((session.inTransaction || statementCount > 1) && facts.kind === 'write' && plan.type !== 'error') {
      // A binary parameter of unknown type decodes to null: unknown, not SQL NULL.
      const known = (ref: ValueRef) =>
        ref.kind === 'param' && bind && bind.values[ref.index - 1] != null && params[ref.index - 1] == null
          ? undefined
          : resolve(ref);
      const note = compensationFor(facts, known, view.dataTypes, this.dialect.quoteLiteral);
      if (note) out.compensation = note;
    }
    return out;
  }

  /** One generator per instance id (the id may change by a config reload). */
  private idGenerator(instanceId: number): SnowflakeIds {
    if (this.ids?.instanceId !== instanceId) this.ids = new SnowflakeIds(instanceId);
    return this.ids;
  }

  /** Split-insert: the statement with only the given VALUES rows, parameters inlined as literals. */
  insertRowsSql(
    sql: string,
    rows: number[],
    bind: { values: Array<Buffer | null>; paramFormats: number[] } | null,
    types: number[],
    fill?: IdFill,
  ): string {
    const params = bind ? decodeBindParams(bind.values, bind.paramFormats, types) : [];
    if (bind?.paramFormats.some((f) => f === 1) && params.some((p) => p === null)) {
      throw new ShardgateError('SCATTER_UNSUPPORTED', {
        detail: 'a multi-shard INSERT with binary parameters of unknown type',
      });
    }
    return this.dialect.inlineInsertRows(sql, rows, params, fill);
  }

  /** Split-insert with parameters already decoded to text (MySQL's binary protocol). */
  insertRowsWithValues(sql: string, rows: number[], params: Array<string | null>): string {
    return this.dialect.inlineInsertRows(sql, rows, params);
  }
}
