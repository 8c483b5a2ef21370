// What the compensate-mode tests of both ports share: the fixture overrides (a data type whose
// compensation also counts its runs, the admin token, the alert webhook), the checks of a
// compensated transaction, and the reads the crash and retry cases make of the in-process
// fixture. Each port gives its fixture and its own direct reads.
import { expect } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import type { ProxyHandle } from '../../src/proxy.js';
import { compensationRecords, type ListedCompensation, metricValue } from './admin-http.js';
import { type AlertWebhook, startAlertWebhook } from './alert-webhook.js';
import type { CompensateCrashCase } from './compensate-crash.js';
import type { CompensateRetryCase } from './compensate-retry.js';
import { waitFor } from './wait-for.js';

// A compensation that also counts its runs (sg_comp_runs has no key: a second run shows).
const UNDO_INSERT =
  'DELETE FROM balances WHERE id = :id AND user_id = :user_id; INSERT INTO sg_comp_runs (id) VALUES (:id)';

interface Fixture {
  config: ShardgateConfig;
  proxy: ProxyHandle;
  cluster: { shards: ReadonlyArray<{ primary: { name: string } }> };
}

/** Counts on one server, read directly: balances rows with an id, compensation runs for an id. */
type CountOn = (server: string, id: number) => Promise<number>;

export class CompensateSide {
  private hook: AlertWebhook | null = null;

  constructor(
    readonly token: string,
    private readonly fixture: () => Fixture,
    readonly rowsWithId: CountOn,
    readonly runsOf: CountOn,
  ) {}

  /** Starts the webhook; the fixture overrides: user_balance in compensate mode, passes the tests' to call. */
  async overrides(): Promise<Record<string, unknown>> {
    this.hook = await startAlertWebhook();
    return {
      admin: { token: this.token },
      // Recovery of the in-process proxy runs once at start; the tests call its passes.
      transactions: { recoveryIntervalMs: 3_600_000, recoveryMinAgeMs: 300 },
      observability: { alerts: { webhookUrl: this.hook.url, rules: [] } },
      dataTypes: {
        user_balance: { crossShard: 'compensate', compensations: { balances: { insert: UNDO_INSERT } } },
      },
    };
  }

  close(): void {
    this.hook?.close();
  }

  /** Shard `n`'s primary. */
  server(n: 0 | 1): string {
    return this.fixture().cluster.shards[n]!.primary.name;
  }

  /**
   * Where the transfer of row `id` (shard 0) and row `id + 1` (shard 1) stands: whether each row
   * is there, and how often shard 0's compensation ran for `id`.
   */
  async outcome(id: number): Promise<{ shard0Row: number; shard1Row: number; runs: number }> {
    return {
      shard0Row: await this.rowsWithId(this.server(0), id),
      shard1Row: await this.rowsWithId(this.server(1), id + 1),
      runs: await this.runsOf(this.server(0), id),
    };
  }

  config(): ShardgateConfig {
    return this.fixture().config;
  }

  adminPort(): number {
    return this.fixture().proxy.admin!.port;
  }

  events() {
    return (this.hook?.events ?? []).filter((e) => e.labels.alertname === 'ShardgateCompensation');
  }

  compensations(adminPort = this.adminPort()): Promise<ListedCompensation[]> {
    return compensationRecords(adminPort, this.token);
  }

  /** The first compensated transaction: its record (newest), the metric and one webhook event. */
  async expectFirstCompensated(server: string): Promise<ListedCompensation> {
    const [record] = await this.compensations();
    expect(record).toMatchObject({ state: 'compensated', compensate: [server], announced: true });
    expect(await metricValue(this.adminPort(), 'shardgate_compensations_total{outcome="compensated"}')).toBe(
      1,
    );
    await waitFor('the webhook event', async () => this.events().length >= 1, 30_000, 100);
    expect(this.events()).toHaveLength(1);
    expect(this.events()[0]!.annotations.summary).toContain(record!.id);
    return record!;
  }

  private async flushFixtureAlerts(): Promise<void> {
    await this.fixture().proxy.observability?.alerts.flush();
  }

  crashCaseReads(): Pick<
    CompensateCrashCase,
    | 'config'
    | 'fixtureAdminPort'
    | 'flushFixtureAlerts'
    | 'rowsOnShard0'
    | 'rowsOnShard1'
    | 'runsOnShard0'
    | 'compensated'
    | 'eventCount'
  > {
    return {
      config: () => this.config(),
      fixtureAdminPort: () => this.adminPort(),
      flushFixtureAlerts: () => this.flushFixtureAlerts(),
      rowsOnShard0: (id) => this.rowsWithId(this.server(0), id),
      rowsOnShard1: (id) => this.rowsWithId(this.server(1), id),
      runsOnShard0: (id) => this.runsOf(this.server(0), id),
      compensated: async (port) =>
        (await this.compensations(port)).filter((r) => r.state === 'compensated' && r.announced).length,
      eventCount: () => this.events().length,
    };
  }

  retryCaseReads(): Pick<
    CompensateRetryCase,
    | 'token'
    | 'config'
    | 'shard1Server'
    | 'rowsOnShard1'
    | 'runsOnShard1'
    | 'fixtureAdminPort'
    | 'flushFixtureAlerts'
    | 'eventsFor'
  > {
    return {
      token: this.token,
      config: () => this.config(),
      shard1Server: () => this.server(1),
      rowsOnShard1: (id) => this.rowsWithId(this.server(1), id),
      runsOnShard1: (id) => this.runsOf(this.server(1), id),
      fixtureAdminPort: () => this.adminPort(),
      flushFixtureAlerts: () => this.flushFixtureAlerts(),
      eventsFor: (id) => this.events().filter((e) => e.annotations.summary?.includes(id)).length,
    };
  }
}

/** The fields the compensate tests read of a driver's error (pg: code; mysql2: errno). */
export interface StatementError {
  code?: string;
  errno?: number;
  message?: string;
}

/** What a statement (usually a COMMIT) ended with: null when it succeeded, else its error. */
export function errorOf(statement: Promise<unknown>): Promise<StatementError | null> {
  return statement.then(
    () => null,
    (err: unknown) => err as StatementError,
  );
}

/** Runs one statement, with its parameters in the driver's own placeholders. */
export type RunStatement = (sql: string, params?: unknown[]) => Promise<unknown>;

/**
 * BEGIN, a row `id` of users[0] and a row `id + 1` of users[1] with these balances (`insertBalance`
 * takes id, user_id and balance), then COMMIT sent; `commit` is what it ends with (wrapped: the
 * caller may act while it runs).
 */
export async function startTransfer(
  run: RunStatement,
  insertBalance: string,
  id: number,
  users: [number, number],
  balances: [number, number],
): Promise<{ commit: Promise<StatementError | null> }> {
  await run('BEGIN');
  await run(insertBalance, [id, users[0], balances[0]]);
  await run(insertBalance, [id + 1, users[1], balances[1]]);
  return { commit: errorOf(run('COMMIT')) };
}
