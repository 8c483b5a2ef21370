// A pass that runs at start and then every intervalMs, never two at once: the loop both
// recoveries (two-phase, compensate mode) run. A failed pass is logged; the next one tries again.
import type { Logger } from 'pino';

export abstract class PeriodicPass<T> {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<T> | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly passLogger: Logger,
    private readonly failure: string,
  ) {}

  protected abstract runPass(): Promise<T>;

  start(): void {
    const run = () =>
      void this.pass().catch((err: Error) => this.passLogger.warn({ err: err.message }, this.failure));
    run();
    this.timer = setInterval(run, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One pass; a call while one runs gets that one. */
  pass(): Promise<T> {
    if (!this.running) {
      this.running = this.runPass().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }
}
