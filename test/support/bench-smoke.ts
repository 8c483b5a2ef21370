// What the bench scenario smoke tests share: a results folder removed after the file's tests,
// the scenario's printed lines, and the check of the files a run writes (all four exist, the SVG
// is one svg element, the Markdown has its table). Each test asserts its own figures.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import type { WrittenFiles } from '../../bench/lib/report.js';
import type { ScenarioOutputOptions } from '../../bench/lib/scenario-options.js';

/** A fresh results folder, removed once the file's tests are done. */
export function smokeResultsDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Collects what a scenario says; `text()` is all of it. */
export function collectLines(): { say: (line: string) => void; text: () => string } {
  const lines: string[] = [];
  return { say: (line) => lines.push(line), text: () => lines.join('\n') };
}

/**
 * The --quick smoke run of scenario `name` for one test file: `dir` is its results folder (see
 * smokeResultsDir); `run` runs the scenario as `bench <name> --quick` would (its defaults, then the
 * quick preset), then the test's own `options`, its results in `dir`, and returns what the scenario
 * returns with `lines`, what it said.
 */
export function quickSmoke<O extends ScenarioOutputOptions, R extends object>(
  name: string,
  scenario: (options: O) => Promise<R>,
  defaults: O,
  quick: Partial<O>,
) {
  const dir = smokeResultsDir(`bench-${name}-`);
  return {
    dir,
    async run(options: Partial<O> = {}): Promise<R & { lines: ReturnType<typeof collectLines> }> {
      const lines = collectLines();
      const out = await scenario({
        ...defaults,
        ...quick,
        command: `node dist/bench/main.js ${name} --quick`,
        ...options,
        resultsDir: dir,
        say: lines.say,
      });
      return { ...out, lines };
    },
  };
}

export interface ResultFileChecks {
  /** The Markdown report's table header. */
  markdownHas: string;
  /** What the SVG must match (one svg element by default). */
  svg?: RegExp;
  /** Further files that must exist (e.g. the --json copy). */
  extra?: string[];
}

/** Checks the written files and returns the latest JSON, parsed. */
export function readResultFiles<T>(files: WrittenFiles | null, checks: ResultFileChecks): T {
  expect(files).not.toBeNull();
  for (const f of [files?.json, files?.latestJson, files?.svg, files?.markdown, ...(checks.extra ?? [])]) {
    expect(f && existsSync(f)).toBe(true);
  }
  expect(readFileSync(files?.svg ?? '', 'utf8')).toMatch(checks.svg ?? /^<svg [\s\S]*<\/svg>\n$/);
  expect(readFileSync(files?.markdown ?? '', 'utf8')).toContain(checks.markdownHas);
  return JSON.parse(readFileSync(files?.latestJson ?? '', 'utf8')) as T;
}
