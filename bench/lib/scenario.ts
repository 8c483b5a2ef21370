// The frame every measured scenario (pgbench, sysbench, hotkeys, consistency) shares: servers and
// proxies stopped on exit or Ctrl-C, the machine and its load before and after, the note about a
// busy machine, the result document's header and the report files.
import type { LoadSnapshot, MachineInfo } from './machine.js';
import { describeLoad, describeMachine, loadSnapshot, machineInfo } from './machine.js';
import { onInterrupt } from './proc.js';
import { fileTimestamp, type WrittenFiles, writeResultFiles } from './report.js';

export interface Stoppable {
  stop(): Promise<void>;
}

/** The fields every scenario's result document (schema version 1) starts with, in this order. */
export interface ScenarioResultHeader<S extends string = string> {
  scenario: S;
  schemaVersion: 1;
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: MachineInfo;
  load: { before: LoadSnapshot; after: LoadSnapshot };
}

/** What a scenario run returns: the result document and the files written (null with --no-results). */
export interface ScenarioOutput<R> {
  result: R;
  files: WrittenFiles | null;
}

/** The renderers of a scenario's report module. */
export interface ScenarioRenderers<R> {
  consoleReport(result: R): string;
  svgReport(result: R): string;
  markdownReport(result: R): string;
}

export class ScenarioRun<S extends string = string> {
  readonly startedAt = new Date();
  readonly notes: string[] = [];
  private readonly running: Stoppable[] = [];

  constructor(
    readonly scenario: S,
    readonly say: (line: string) => void,
  ) {}

  /** Says a line prefixed with "bench <scenario>: ". */
  tell(text: string): void {
    this.say(`bench ${this.scenario}: ${text}`);
  }

  /** Stops `thing` on cleanup; what was tracked last stops first. */
  track<T extends Stoppable>(thing: T): T {
    this.running.push(thing);
    return thing;
  }

  /** Stops a tracked thing now (its errors are thrown) and forgets it. */
  async release(thing: Stoppable): Promise<void> {
    const i = this.running.indexOf(thing);
    if (i >= 0) this.running.splice(i, 1);
    await thing.stop();
  }

  /** Stops everything tracked, newest first; failures to stop are ignored. */
  async cleanup(): Promise<void> {
    for (const t of this.running.splice(0).reverse()) await t.stop().catch(() => undefined);
  }

  /** The machine (with the versions of `tools`) and its load now, said as the first line. */
  async measureMachine(
    tools?: Record<string, readonly string[]>,
  ): Promise<{ machine: MachineInfo; before: LoadSnapshot }> {
    const machine = await machineInfo(tools);
    const before = loadSnapshot();
    this.tell(`${describeMachine(machine)}; ${describeLoad(before)}`);
    return { machine, before };
  }

  /**
   * After the measured phase: the load now, everything stopped, a note when other work shared the
   * machine before the run (during it the load is our own; `consequence` ends the note), and the
   * result document's first fields (finishedAt is now).
   */
  async finishMeasuring(
    command: string,
    machine: MachineInfo,
    before: LoadSnapshot,
    consequence: string,
  ): Promise<ScenarioResultHeader<S>> {
    const after = loadSnapshot();
    await this.cleanup();
    if (before.loadavg[0] > machine.cpus * 0.5) {
      this.notes.push(
        `the 1-minute load average was ${before.loadavg[0].toFixed(2)} on ${machine.cpus} cpus before the run: other work shared the machine${consequence}`,
      );
    }
    return {
      scenario: this.scenario,
      schemaVersion: 1,
      startedAt: this.startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command,
      machine,
      load: { before, after },
    };
  }

  /**
   * Prints the console report and, unless resultsDir is null, writes <scenario>-<timestamp>.json,
   * <scenario>-latest.{json,svg,md} and the --json copy.
   */
  publish<R>(
    result: R,
    where: { resultsDir: string | null; jsonPath: string | null },
    render: ScenarioRenderers<R>,
  ): ScenarioOutput<R> {
    this.say(render.consoleReport(result));
    let files: WrittenFiles | null = null;
    if (where.resultsDir) {
      files = writeResultFiles({
        dir: where.resultsDir,
        scenario: this.scenario,
        timestamp: fileTimestamp(this.startedAt),
        result,
        svg: render.svgReport(result),
        markdown: render.markdownReport(result),
        jsonPath: where.jsonPath ?? undefined,
      });
      this.tell(`wrote ${files.json}, ${files.latestJson}, ${files.svg}, ${files.markdown}`);
    }
    return { result, files };
  }
}

/**
 * Runs a scenario's body with a ScenarioRun: whatever it tracks is stopped when the body ends,
 * throws, or the process is interrupted.
 */
export async function runScenario<S extends string, T>(
  scenario: S,
  say: (line: string) => void,
  body: (run: ScenarioRun<S>) => Promise<T>,
): Promise<T> {
  const run = new ScenarioRun(scenario, say);
  const unregister = onInterrupt(() => run.cleanup());
  try {
    return await body(run);
  } finally {
    await run.cleanup();
    unregister();
  }
}
