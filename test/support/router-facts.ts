// Hand-built StatementFacts and a planStatement wrapper for router unit tests: literals and bind
// parameters are given as text lists, as the analyzer and the bind decoder would supply them.

import type { RoutingSession, TopologyView } from '../../src/router/inputs.js';
import type { Plan } from '../../src/router/plan.js';
import { planStatement } from '../../src/router/planner.js';
import {
  type CommentHints,
  columnlessShape,
  emptyStatementFacts,
  type InsertShape,
  type KeyCondition,
  type SelectShape,
  type StatementFacts,
  type ValueRef,
} from '../../src/sql/facts.js';
import { demoTopology, routingSession } from './topology-fixture.js';

export const lit = (index: number): ValueRef => ({ kind: 'literal', index });
export const param = (index: number): ValueRef => ({ kind: 'param', index });

export function facts(over: Partial<StatementFacts>): StatementFacts {
  return { ...emptyStatementFacts('read'), ...over };
}

/** INSERT INTO posts (id, user_id) VALUES ..., one list of value refs per row. */
export function insertPosts(rows: ValueRef[][], over: Partial<InsertShape> = {}): StatementFacts {
  return facts({
    kind: 'write',
    tables: ['posts'],
    writeTables: ['posts'],
    insert: {
      table: 'posts',
      columns: ['id', 'user_id'],
      rows,
      fromSelect: false,
      onConflict: false,
      returning: false,
      ...over,
    },
  });
}

export function keyEq(table: string, column: string, ...values: ValueRef[]): KeyCondition {
  return { table, column, values };
}

export function select(over: Partial<SelectShape> = {}): SelectShape {
  return { ...columnlessShape(null), outputs: [{ name: 'id' }, { name: 'user_id' }], ...over };
}

/** SELECT ... FROM <table> WHERE <table>.user_id = $literal0. */
export function readByUser(table: string): StatementFacts {
  return facts({ tables: [table], keyConditions: [keyEq(table, 'user_id', lit(0))], select: select() });
}

export interface PlanCase {
  facts: StatementFacts;
  literals?: string[];
  params?: Array<string | null>;
  arrays?: Record<number, string[]>;
  hints?: CommentHints;
  session?: RoutingSession;
  topology?: TopologyView;
  explainInner?: Plan;
}

export function resolverFor(literals: string[], params: Array<string | null>) {
  return (ref: ValueRef): string | null => {
    if (ref.kind === 'const') return ref.value;
    if (ref.kind === 'param') return params[ref.index - 1] ?? null;
    const v = literals[ref.index];
    if (v === undefined) return null;
    return ref.negate ? `-${v}` : v;
  };
}

export function plan(c: PlanCase): Plan {
  const arrays = c.arrays ?? {};
  return planStatement({
    facts: c.facts,
    hints: c.hints ?? {},
    resolve: resolverFor(c.literals ?? [], c.params ?? []),
    resolveArray: (i) => arrays[i] ?? null,
    session: c.session ?? routingSession(),
    topology: c.topology ?? demoTopology(),
    explainInner: c.explainInner,
  });
}
