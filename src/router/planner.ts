// The planner: (statement facts, values, session, topology view) -> Plan. Pure and synchronous;
// the same inputs always give the same plan. Rules (DESIGN.md "Consistency levels", "Sharding"):
//
// - SHARDGATE statements are answered locally (LocalPlan).
// - Session, transaction, utility, empty and unparsable statements go to the open transaction's
//   server, else the default shard's primary.
// - Writes (write/ddl kinds, locking reads, data-modifying CTEs, routing.writeFunctions) and
//   everything in a read-write transaction go to primaries; a READ ONLY transaction may start on
//   a replica its level allows, and then stays on that server.
// - Shards come from key conditions on each sharded table's shardKey. Reads that need several
//   shards (or cannot tell) scatter; writes that would touch several shards are refused unless
//   every written sharded table allows scatterWrites; in a transaction, needing a second shard is
//   CROSS_SHARD_TRANSACTION.
// - Joins: reference tables never constrain the shard. Sharded tables joined or combined by a
//   subquery run per shard only when the condition equates their shard keys (planner-colocation.ts),
//   or on one shard when key values pin them all to it; otherwise JOIN_NOT_COLOCATED. A sharded
//   table joined with an unsharded table works only when all of it is on the default shard.
// - Writes: UPDATE/DELETE whose key values are known run on exactly those primaries (outside a
//   transaction); an UPDATE assigning a shard key another shard owns is a key-move (the rows move
//   in one cross-shard transaction) where possible, else SHARD_KEY_UPDATE (planner-key-change.ts).
// - DDL on sharded or reference tables runs on every primary (their schema must stay alike);
//   other DDL runs on the default shard.
// - Hints: `shard=` forces the shard (UNKNOWN_SHARD when absent), `role=` the server role for
//   reads (writes stay on the primary), `consistency=` the level (floor-bounded, consistency.ts).
//   shard= and role=replica need the user's routingOverrides permission; a forced shard must own
//   what a write touches (planner-data.ts), and role=replica cannot go below a data type's floor.

import { effectiveContext } from './consistency.js';
import type { ShardView } from './inputs.js';
import type { CopyQueryOutPlan, LocalAction, LocalPlan, Plan, PlanBase, ScatterPlan } from './plan.js';
import {
  defaultShard,
  errorPlan,
  type PlanContext,
  type PlanInput,
  readTarget,
  scatterWrite,
  shardByName,
  single,
  singlePlan,
  withBase,
} from './planner-context.js';
import { planCopyIn } from './planner-copy.js';
import { planData, shardDemand } from './planner-data.js';
import { classifyTables, homesOf } from './table-routing.js';

export type { PlanInput } from './planner-context.js';

export function planStatement(input: PlanInput): Plan {
  const { facts, topology, session, hints } = input;
  const base: PlanBase = {
    level: null,
    dataTypes: [],
    topologyVersion: topology.version,
    reasons: [],
    keys: [],
  };
  const ctx = effectiveContext(session.context, hints);
  if ('detail' in ctx) return errorPlan(base, 'INVALID_HINT', { ...ctx, name: `shardgate.${ctx.name}` });
  let forcedShard: ShardView | null = null;
  const shardName = hints.shard ?? session.context.shard;
  if (shardName) {
    forcedShard = shardByName(topology, shardName);
    if (!forcedShard) {
      return errorPlan(base, 'UNKNOWN_SHARD', {
        shard: shardName,
        known: topology.shards.map((s) => s.name).join(', '),
      });
    }
  }
  let forcedRole = session.context.role;
  if (hints.role !== undefined) {
    const role = hints.role.trim().toLowerCase();
    if (role !== 'primary' && role !== 'replica') {
      return errorPlan(base, 'INVALID_HINT', {
        name: 'shardgate.role',
        value: hints.role,
        detail: 'expected primary or replica',
      });
    }
    forcedRole = role;
  }
  // SET/SHOW/RESET shardgate.* stay possible (a RESET is the way out); everything else refuses.
  if ((forcedShard || forcedRole === 'replica') && !session.context.overridesAllowed) {
    const refused = overrideRefusal(base, facts, forcedShard ? `shard=${forcedShard.name}` : 'role=replica');
    if (refused) return refused;
  }
  const pc: PlanContext = {
    input,
    base,
    ctx,
    forcedShard,
    forcedRole,
    maxLagMs: topology.routing.defaultMaxLagMs,
    floor: null,
  };
  switch (facts.kind) {
    case 'shardgate':
      return planLocal(pc);
    case 'read':
    case 'write':
      return planData(pc);
    case 'ddl':
      return planDdl(pc);
    case 'utility':
      return planUtility(pc);
    default:
      return planSessionLike(pc, facts.kind === 'unknown', `${facts.kind} statement`);
  }
}

function overrideRefusal(base: PlanBase, facts: PlanInput['facts'], override: string): Plan | null {
  const command = facts.shardgate;
  if (facts.kind === 'shardgate' && command?.command !== 'explain') return null;
  return errorPlan(base, 'ROUTING_OVERRIDE_NOT_ALLOWED', { override, name: override.split('=')[0]! });
}

function planLocal(pc: PlanContext): Plan {
  const command = pc.input.facts.shardgate;
  let action: LocalAction;
  if (!command) return errorPlan(pc.base, 'INTERNAL', { detail: 'SHARDGATE statement without a command' });
  switch (command.command) {
    case 'set':
      action = { kind: 'set-context', name: command.name, value: command.value };
      break;
    case 'reset':
      action = { kind: 'set-context', name: command.name, value: null };
      break;
    case 'show':
      action = { kind: 'show-context', name: command.name };
      break;
    case 'clear_cache':
      action = { kind: 'clear-cache' };
      break;
    default:
      if (!pc.input.explainInner)
        return errorPlan(pc.base, 'INTERNAL', { detail: 'SHARDGATE EXPLAIN without the inner plan' });
      action = { kind: 'explain', plan: pc.input.explainInner };
  }
  pc.base.reasons.push(`shardgate ${command.command}: answered by the proxy`);
  return withBase<LocalPlan>(pc.base, {
    type: 'local',
    action,
  });
}

function planSessionLike(pc: PlanContext, write: boolean, reason: string): Plan {
  const { topology, session } = pc.input;
  pc.base.reasons.push(reason);
  let shard = pc.forcedShard ?? defaultShard(topology);
  if (session.inTransaction && session.transactionShard)
    shard = shardByName(topology, session.transactionShard) ?? shard;
  if (!session.inTransaction && pc.forcedRole === 'replica' && !write) {
    return single(pc.base, readTarget(pc, shard, 'eventual'), false);
  }
  const { inTransaction, transactionServer } = session;
  const server = inTransaction && transactionServer ? transactionServer : shard.primary.name;
  const role = server === shard.primary.name ? 'primary' : 'replica';
  pc.base.reasons.push(`-> ${shard.name} ${role === 'primary' ? 'primary' : server}`);
  return single(pc.base, { shard: shard.name, server, role }, write);
}

const WRITING_UTILITIES = new Set([
  'copy_from',
  'do',
  'call',
  'lock',
  'vacuum',
  'analyze',
  'notify',
  'execute',
  'checkpoint',
  'other',
]);

function planUtility(pc: PlanContext): Plan {
  const { facts, topology } = pc.input;
  const utility = facts.utility ?? 'other';
  const write = WRITING_UTILITIES.has(utility);
  if (utility === 'copy_from') {
    const copy = planCopyIn(pc);
    if (copy) return copy;
  }
  if (pc.forcedShard || facts.tables.length === 0) return planSessionLike(pc, write, `utility ${utility}`);
  const demand = shardDemand(pc, classifyTables(facts.tables, topology));
  const format = utility === 'copy_to' && facts.copyOut?.stdout ? facts.copyOut.format : undefined;
  if (format && ('type' in demand || demand.shards.length > 1)) {
    // The query is planned on its own when it runs (its joins and merges as a SELECT's).
    if (format.problem) return errorPlan(pc.base, 'FEATURE_NOT_SUPPORTED', { detail: format.problem });
    pc.base.reasons.push(
      'COPY (query) TO STDOUT over several shards: the query planned, merged, then written',
    );
    return withBase<CopyQueryOutPlan>(pc.base, { type: 'copy-query-out' });
  }
  if ('type' in demand) return demand;
  if (demand.shards.length === 1) {
    pc.base.reasons.push(`utility ${utility}`);
    return singlePlan(pc, shardByName(topology, demand.shards[0]!)!, write, null);
  }
  if (utility === 'copy_to' && facts.copyOut?.stdout && !facts.copyOut.query) {
    // Every shard holds a disjoint part of the table: the copies concatenate.
    pc.base.reasons.push(`COPY TO STDOUT on ${demand.shards.join(', ')} primaries, concatenated`);
    return withBase<ScatterPlan>(pc.base, {
      type: 'scatter',
      targets: demand.shards.map((name) => {
        const s = shardByName(topology, name)!;
        return { shard: s.name, server: s.primary.name, role: 'primary' };
      }),
      write: false,
      merge: null,
      rewrittenSql: null,
      rewrite: null,
      copyOut: { header: facts.copyOut.header },
    });
  }
  if (utility === 'copy_from' || utility === 'copy_to' || utility === 'lock') {
    return errorPlan(pc.base, 'SCATTER_UNSUPPORTED', {
      detail: `${utility.replace('_', ' ').toUpperCase()} on ${facts.tables.join(', ')} spans shards (${demand.why}); add a shard= hint per shard`,
    });
  }
  return planSessionLike(
    pc,
    write,
    `utility ${utility} on several shards: default shard only (use shard= per shard)`,
  );
}

function planDdl(pc: PlanContext): Plan {
  const { facts, topology } = pc.input;
  const sets = classifyTables(facts.tables, topology);
  if (pc.forcedShard) {
    const everywhere = [...sets.sharded, ...sets.reference];
    if (everywhere.length > 0) {
      return errorPlan(pc.base, 'ROUTING_OVERRIDE_REFUSED', {
        shard: pc.forcedShard.name,
        detail: `DDL on ${everywhere.join(', ')} must run on every shard to keep their schemas alike`,
      });
    }
    return singlePlan(pc, pc.forcedShard, true, null);
  }
  if (sets.sharded.length === 0 && sets.reference.length === 0) {
    // An unsharded table's DDL goes to its home (CREATE TABLE of a table configured with one too).
    const homes = homesOf(sets.unsharded, topology);
    const home =
      homes.length === 1 && homes[0] !== topology.defaultShard ? shardByName(topology, homes[0]!) : undefined;
    if (homes.length > 1)
      return errorPlan(pc.base, 'SCATTER_UNSUPPORTED', {
        detail: `ddl on unsharded tables of different shards (${homes.join(', ')}); one statement per shard`,
      });
    pc.base.reasons.push(`ddl on unsharded objects -> ${home ? home.name : 'default shard'}`);
    return singlePlan(pc, home ?? defaultShard(topology), true, null);
  }
  // Sharded and reference tables exist on every shard: their schema changes everywhere.
  pc.base.reasons.push(`ddl on ${[...sets.sharded, ...sets.reference].join(', ')} -> every shard`);
  return scatterWrite(pc, topology.shards);
}
