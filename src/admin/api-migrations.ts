// /api/migrations: plan, start and follow live shard splits, table moves (a body with `table`
// and `to` moves an unsharded table) and merges (a body with `merge: [a, b]` and `into`), and resume, verify, clean up, roll back or abort them. Mutations need the admin token; the CLI (`shardgate migrate ...`)
// and the dashboard are clients of these endpoints.
import { z } from 'zod';
import { ShardgateError } from '../errors.js';
import type { MigrationManager } from '../migration/manager.js';
import type { MigrationState } from '../migration/state-store.js';
import { type AdminResponse, type AdminServer, HttpError } from './http.js';
import { parseRequestBody } from './request-body.js';

const verifyMode = z
  .string()
  .regex(/^(full|sample:\d+)$/, 'use "full" or "sample:N"')
  .default('sample:20')
  .transform((v) => (v === 'full' ? ('full' as const) : { sample: Number(v.slice('sample:'.length)) }));

const splitRequest = z.object({
  shard: z.string().min(1),
  at: z.string().default('auto'),
  targets: z.tuple([z.string().min(1), z.string().min(1)]),
  verify: verifyMode,
  dryRun: z.boolean().default(false),
});

const moveRequest = z.object({
  table: z.string().min(1),
  to: z.string().min(1),
  verify: verifyMode,
  dryRun: z.boolean().default(false),
});

const mergeRequest = z.object({
  merge: z.tuple([z.string().min(1), z.string().min(1)]),
  into: z.string().min(1),
  verify: verifyMode,
  dryRun: z.boolean().default(false),
});

/** What list views show: the state without the per-chunk detail. */
export function migrationSummary(s: MigrationState) {
  const copied = s.copy.reduce((n, t) => n + t.rows, 0);
  const estimated = s.copy.reduce((n, t) => n + Math.max(t.estimatedRows, t.rows), 0);
  const last = s.cutovers.at(-1) ?? null;
  return {
    id: s.id,
    operation: s.plan.operation ?? 'split',
    ...(s.plan.move ? { table: s.plan.move.table } : {}),
    ...(s.plan.merge ? { shards: s.plan.merge.sources.map((m) => m.shard) } : {}),
    phase: s.phase,
    status: s.status,
    shard: s.plan.sourceShard,
    at: s.plan.at,
    targets: s.plan.targets.map((t) => ({ shard: t.shard, server: t.server.name, range: t.range })),
    copy: { rows: copied, estimatedRows: estimated, bytes: s.copy.reduce((n, t) => n + t.bytes, 0) },
    capture: s.capture,
    cutover: last
      ? {
          attempts: s.cutovers.length,
          outcome: last.outcome,
          blockMs: Math.round(last.blockMs),
          maxHeldMs: Math.round(last.maxHeldMs),
          p99HeldMs: Math.round(last.p99HeldMs),
          heldStatements: last.heldStatements,
          abortedTransactions: last.abortedTransactions,
        }
      : null,
    verify: s.verify
      ? { chunks: s.verify.chunksChecked, rows: s.verify.rowsChecked, mismatches: s.verify.mismatches }
      : null,
    updatedAt: s.updatedAt,
  };
}

/** A dry run answers the plan; otherwise the operation starts (201) and answers its summary. */
async function planOrStart(
  dryRun: boolean,
  plan: () => Promise<unknown>,
  start: () => Promise<MigrationState>,
): Promise<AdminResponse> {
  try {
    if (dryRun) return { json: { plan: await plan() } };
    const state = await start();
    return { status: 201, json: { migration: migrationSummary(state), plan: state.plan } };
  } catch (err) {
    toHttp(err);
  }
}

function toHttp(err: unknown): never {
  if (err instanceof ShardgateError)
    throw new HttpError(err.code === 'MIGRATION_STATE' ? 409 : 400, err.message);
  throw err;
}

export function registerMigrationRoutes(admin: AdminServer, manager: MigrationManager): void {
  admin.route({
    method: 'POST',
    path: '/api/migrations',
    mutating: true,
    handler: async (req) => {
      if (req.body && typeof req.body === 'object' && 'table' in req.body) {
        const move = parseRequestBody(moveRequest, req.body, 'move request');
        return planOrStart(
          move.dryRun,
          () => manager.planMove(move),
          () => manager.startMove(move),
        );
      }
      if (req.body && typeof req.body === 'object' && 'merge' in req.body) {
        const merge = parseRequestBody(mergeRequest, req.body, 'merge request');
        const body = { shards: merge.merge, into: merge.into, verify: merge.verify };
        return planOrStart(
          merge.dryRun,
          () => manager.planMerge(body),
          () => manager.startMerge(body),
        );
      }
      const body = parseRequestBody(splitRequest, req.body, 'split request');
      return planOrStart(
        body.dryRun,
        () => manager.plan(body),
        () => manager.start(body),
      );
    },
  });

  admin.route({
    method: 'GET',
    path: '/api/migrations/*',
    handler: (req) => {
      try {
        const state = manager.get(req.rest);
        return { json: { ...migrationSummary(state), running: manager.isRunning(state.id), state } };
      } catch (err) {
        toHttp(err);
      }
    },
  });

  const actions: Record<string, (id: string) => Promise<MigrationState> | MigrationState> = {
    resume: (id) => manager.resume(id),
    abort: (id) => manager.abort(id),
    rollback: (id) => manager.rollback(id),
    cleanup: (id) => manager.cleanup(id),
    verify: (id) => manager.verifyAgain(id),
  };
  admin.route({
    method: 'POST',
    path: '/api/migrations/*',
    mutating: true,
    handler: async (req) => {
      const [id, action] = req.rest.split('/');
      const run = action ? actions[action] : undefined;
      if (!id || !run) {
        throw new HttpError(404, `use POST /api/migrations/<id>/{${Object.keys(actions).join(',')}}`);
      }
      try {
        return { json: { migration: migrationSummary(await run(id)) } };
      } catch (err) {
        toHttp(err);
      }
    },
  });
}
