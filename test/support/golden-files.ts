// Golden files: one JSON file per group under test/golden/plans/, mapping a case name to its
// statement (for the reader) and the plan as renderPlan prints it. `UPDATE_GOLDEN=1 npx vitest
// run ...` rewrites the files on purpose (then formats them with biome, as the lint expects);
// otherwise any difference fails the test.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Plan, renderPlan } from '../../src/router/plan.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GOLDEN_DIR = join(ROOT, 'test', 'golden', 'plans');
export const UPDATING = process.env.UPDATE_GOLDEN === '1';

export interface GoldenEntry {
  statement: string;
  plan: Plan;
}

/** The group as data: case name -> { statement, plan as rendered (stable key order) }. */
export function renderGroup(entries: Record<string, GoldenEntry>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, e] of Object.entries(entries)) {
    out[name] = { statement: e.statement, plan: JSON.parse(renderPlan(e.plan)) };
  }
  return out;
}

/** The stored group; with UPDATE_GOLDEN=1 `actual` is written (and formatted) first. */
export function goldenGroup(group: string, actual: Record<string, unknown>): unknown {
  const path = join(GOLDEN_DIR, `${group}.json`);
  if (UPDATING) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, `${JSON.stringify(actual, null, 2)}\n`);
    execFileSync(join(ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', path], {
      stdio: 'ignore',
    });
  }
  if (!existsSync(path))
    throw new Error(`missing golden file ${path}: run with UPDATE_GOLDEN=1 to create it`);
  return JSON.parse(readFileSync(path, 'utf8'));
}
