// Recovery of prepared transactions left in doubt (a coordinator crashed, a participant was down
// at COMMIT PREPARED). At start and every transactions.recoveryIntervalMs, for each primary:
// every prepared transaction named sg2pc_* that no coordinator of this process is finishing and
// that is older than transactions.recoveryMinAgeMs is resolved from the decision log: commit
// when the decision is commit; otherwise recovery records an abort (an insert that loses to a
// commit already written) and rolls back. Decision rows nobody needs any more are deleted.
import type { Logger } from 'pino';
import { PeriodicPass } from './periodic-pass.js';
import type { DecisionLog, TwoPhaseCoordinator } from './two-phase.js';

export interface PreparedTransaction {
  gid: string;
  /** Seconds since PREPARE (the server's clock). */
  ageSeconds: number;
  /** The role that prepared it: only that role or a superuser may finish it. */
  owner: string;
}

/** What a protocol gives recovery: the servers that may hold prepared transactions, and the SQL. */
export interface RecoveryPort {
  /** Primary server names with their shard. */
  servers(): Array<{ server: string; shard: string }>;
  listPrepared(server: string): Promise<PreparedTransaction[]>;
  finish(server: string, prepared: PreparedTransaction, commit: boolean): Promise<void>;
}

/** The primaries of a topology, with their shard: where prepared transactions may wait. */
export function primariesOf(topology: {
  shardList(): ReadonlyArray<{ name: string; primary: { name: string } }>;
}): Array<{ server: string; shard: string }> {
  return topology.shardList().map((s) => ({ server: s.primary.name, shard: s.name }));
}

/** A server of the topology by name; throws when it left the topology. */
export function serverNamed<S>(topology: { server(name: string): S | null | undefined }, name: string): S {
  const s = topology.server(name);
  if (!s) throw new Error(`unknown server ${name}`);
  return s;
}

/** The part of a RecoveryPort both protocols share: the topology's primaries, its servers by name. */
export abstract class TopologyRecoveryPort<
  S,
  T extends {
    shardList(): ReadonlyArray<{ name: string; primary: { name: string } }>;
    server(name: string): S | null | undefined;
  },
> implements RecoveryPort
{
  constructor(protected readonly topology: T) {}

  servers(): Array<{ server: string; shard: string }> {
    return primariesOf(this.topology);
  }

  protected server(name: string): S {
    return serverNamed(this.topology, name);
  }

  abstract listPrepared(server: string): Promise<PreparedTransaction[]>;
  abstract finish(server: string, prepared: PreparedTransaction, commit: boolean): Promise<void>;
}

export interface Decision {
  gid: string;
  decision: 'commit' | 'abort';
  servers: string[];
  ageSeconds: number;
}

export interface RecoveryLog extends DecisionLog {
  /** The decision for `gid`, recording 'abort' when there is none yet. */
  resolve(gid: string): Promise<'commit' | 'abort'>;
  decisions(): Promise<Decision[]>;
  forget(gids: readonly string[]): Promise<void>;
}

export interface InDoubt {
  gid: string;
  /** The front end whose servers hold it: postgres or mysql. */
  protocol: string;
  server: string;
  shard: string;
  ageSeconds: number;
  /** The logged decision; null: none yet (recovery rolls it back once it is old enough). */
  decision: 'commit' | 'abort' | null;
  /** The server could not be asked: the transaction may still be prepared there. */
  unreachable: boolean;
}

export interface RecoveryOptions {
  intervalMs: number;
  minAgeMs: number;
  /** The protocol whose servers this recovery watches (postgres, mysql). */
  protocol: string;
}

/** Resolves in-doubt transactions at start and every intervalMs; pass() returns what stays in doubt. */
export class TwoPhaseRecovery extends PeriodicPass<InDoubt[]> {
  constructor(
    private readonly port: RecoveryPort,
    private readonly log: RecoveryLog,
    private readonly coordinator: TwoPhaseCoordinator,
    private readonly options: RecoveryOptions,
    private readonly logger: Logger,
  ) {
    super(options.intervalMs, logger, 'two-phase recovery failed');
  }

  /** What is in doubt now, without resolving anything. */
  async list(): Promise<InDoubt[]> {
    const { prepared, unreachable } = await this.scan();
    const decisions = await this.decisionMap();
    return this.describe(prepared, unreachable, decisions);
  }

  /** Whether a server holds `gid` prepared or the decision log knows it (resolve is for this recovery). */
  async holds(gid: string): Promise<boolean> {
    const { prepared } = await this.scan();
    if (prepared.some((p) => p.gid === gid)) return true;
    return (await this.decisionMap()).has(gid);
  }

  /**
   * An operator's resolution of one transaction. `commit` is refused when the log says abort (or
   * has no decision): committing one shard of a transaction whose others rolled back would be
   * silently wrong. `abort` is refused when the log says commit.
   */
  async resolve(
    gid: string,
    want: 'auto' | 'commit' | 'abort',
  ): Promise<{ decision: string; servers: string[] }> {
    const { prepared } = await this.scan();
    const holders = prepared.filter((p) => p.gid === gid);
    const logged = (await this.decisionMap()).get(gid)?.decision ?? null;
    if (want === 'commit' && logged !== 'commit')
      throw new Error(`transaction ${gid} has no commit decision; only the decision log can commit it`);
    if (want === 'abort' && logged === 'commit')
      throw new Error(`transaction ${gid} was decided commit; it cannot be rolled back`);
    if (this.coordinator.inFlight.has(gid))
      throw new Error(`transaction ${gid} is being committed right now`);
    const decision = await this.log.resolve(gid);
    for (const h of holders) await this.finishOne(h, decision === 'commit');
    return { decision, servers: holders.map((h) => h.server) };
  }

  protected async runPass(): Promise<InDoubt[]> {
    const passStarted = Date.now();
    const { prepared, unreachable } = await this.scan();
    const seen = new Set(prepared.map((p) => p.gid));
    const minAge = this.options.minAgeMs / 1000;
    for (const p of prepared) {
      if (this.coordinator.inFlight.has(p.gid) || p.ageSeconds < minAge) continue;
      try {
        const decision = await this.log.resolve(p.gid);
        await this.finishOne(p, decision === 'commit');
        p.ageSeconds = -1; // resolved
      } catch (err) {
        this.logger.warn(
          { gid: p.gid, server: p.server, err: (err as Error).message },
          'in-doubt transaction not resolved',
        );
      }
    }
    const decisions = await this.decisionMap();
    // A row older than this pass (and than minAge) whose transaction no server still holds is done.
    const elapsed = (Date.now() - passStarted) / 1000;
    const done: string[] = [];
    for (const d of decisions.values()) {
      if (seen.has(d.gid) || this.coordinator.inFlight.has(d.gid)) continue;
      if (d.ageSeconds <= elapsed + minAge) continue;
      if (d.servers.some((s) => unreachable.has(s))) continue;
      done.push(d.gid);
    }
    if (done.length > 0) await this.log.forget(done);
    const left = this.describe(
      prepared.filter((p) => p.ageSeconds >= minAge),
      unreachable,
      decisions,
    );
    this.publish(left);
    return left;
  }

  private async finishOne(p: PreparedTransaction & { server: string }, commit: boolean): Promise<void> {
    await this.port.finish(p.server, p, commit);
    const stats = this.coordinator.stats;
    if (commit) stats.recoveredCommits++;
    else stats.recoveredAborts++;
    stats.observeResolve(Math.max(0, p.ageSeconds));
    this.logger.info({ gid: p.gid, server: p.server, commit }, 'in-doubt transaction resolved');
  }

  private async scan(): Promise<{
    prepared: Array<PreparedTransaction & { server: string; shard: string }>;
    unreachable: Set<string>;
  }> {
    const prepared: Array<PreparedTransaction & { server: string; shard: string }> = [];
    const unreachable = new Set<string>();
    await Promise.all(
      this.port.servers().map(async ({ server, shard }) => {
        try {
          for (const p of await this.port.listPrepared(server)) prepared.push({ ...p, server, shard });
        } catch {
          unreachable.add(server);
        }
      }),
    );
    return { prepared, unreachable };
  }

  private async decisionMap(): Promise<Map<string, Decision>> {
    return new Map((await this.log.decisions()).map((d) => [d.gid, d]));
  }

  private describe(
    prepared: Array<PreparedTransaction & { server: string; shard: string }>,
    unreachable: Set<string>,
    decisions: Map<string, Decision>,
  ): InDoubt[] {
    const out: InDoubt[] = [];
    for (const p of prepared) {
      if (p.ageSeconds < 0) continue;
      out.push({
        gid: p.gid,
        protocol: this.options.protocol,
        server: p.server,
        shard: p.shard,
        ageSeconds: p.ageSeconds,
        decision: decisions.get(p.gid)?.decision ?? null,
        unreachable: false,
      });
    }
    // A committed transaction whose participant cannot be asked may still be prepared there.
    const shardOf = new Map(this.port.servers().map((s) => [s.server, s.shard]));
    for (const d of decisions.values()) {
      if (d.decision !== 'commit') continue;
      for (const server of d.servers) {
        if (!unreachable.has(server)) continue;
        out.push({
          gid: d.gid,
          protocol: this.options.protocol,
          server,
          shard: shardOf.get(server) ?? '',
          ageSeconds: d.ageSeconds,
          decision: 'commit',
          unreachable: true,
        });
      }
    }
    return out;
  }

  private publish(left: InDoubt[]): void {
    this.coordinator.stats.publishInDoubt(this.options.protocol, left);
  }
}
