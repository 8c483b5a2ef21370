// Figures of two-phase commit: plain numbers the coordinator and recovery bump, read by the
// Prometheus registry at scrape time (shardgate_2pc_*) and by /api/transactions.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const RESOLVE_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800];
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export class TwoPhaseStats {
  commits = 0;
  aborts = 0;
  /** The decision write's outcome was unknown (the client got 08007; recovery finished it). */
  unknownOutcomes = 0;
  /** Prepared transactions recovery committed / rolled back. */
  recoveredCommits = 0;
  recoveredAborts = 0;
  /** Transactions in doubt after the last recovery pass, and the oldest one's age per shard (seconds). */
  inDoubt = 0;
  readonly oldestInDoubtByShard = new Map<string, number>();
  /** Compensate mode: transactions finished, by outcome (compensated, failed, committed, aborted). */
  readonly compensations = new Map<string, number>();
  /** Compensate mode: a shard lost during COMMIT (the client got 08007; recovery decided). */
  compensationUnknown = 0;
  /** The last pass of each recovery (one per protocol), which the two figures above add up. */
  private readonly bySource = new Map<string, Array<{ gid: string; shard: string; ageSeconds: number }>>();
  private resolveHistogram: Histogram | null = null;
  private commitHistogram: Histogram | null = null;

  /** Registers shardgate_2pc_* on the proxy's registry (none when observability is off). */
  register(registry: Registry): void {
    const registers = [registry];
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counter(
      'shardgate_2pc_commits_total',
      'Cross-shard transactions committed by two-phase commit.',
      () => this.commits,
    );
    counter(
      'shardgate_2pc_aborts_total',
      'Cross-shard transactions rolled back on every shard (a participant failed to prepare).',
      () => this.aborts,
    );
    counter(
      'shardgate_2pc_recovered_total',
      'Prepared transactions finished by recovery (committed or rolled back from the decision log).',
      () => this.recoveredCommits + this.recoveredAborts,
    );
    const stats = this;
    new Counter({
      name: 'shardgate_compensations_total',
      help: 'Compensate-mode transactions that failed on a shard after another committed (or whose commit was in doubt), by outcome: compensated, failed, committed, aborted.',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        for (const [outcome, n] of stats.compensations) this.inc({ outcome }, n);
      },
    });
    new Gauge({
      name: 'shardgate_2pc_in_doubt',
      help: 'Prepared transactions waiting for recovery (as of the last recovery pass).',
      registers,
      collect() {
        this.set(stats.inDoubt);
      },
    });
    new Gauge({
      name: 'shardgate_2pc_oldest_in_doubt_seconds',
      help: 'Age of the oldest prepared transaction waiting for recovery, by shard (absent: none).',
      labelNames: ['shard'],
      registers,
      collect() {
        this.reset();
        for (const [shard, seconds] of stats.oldestInDoubtByShard) this.set({ shard }, seconds);
      },
    });
    this.resolveHistogram = new Histogram({
      name: 'shardgate_2pc_resolve_seconds',
      help: 'Time from PREPARE to its resolution by recovery (in-doubt time).',
      buckets: RESOLVE_BUCKETS,
      registers,
    });
    this.commitHistogram = new Histogram({
      name: 'shardgate_2pc_commit_seconds',
      help: 'Duration of a two-phase COMMIT (prepare, decision, commit prepared).',
      buckets: COMMIT_BUCKETS,
      registers,
    });
  }

  /**
   * What one recovery (`source`: its protocol) left in doubt after its pass. Shards of both
   * protocols may share a name: the gauge then shows the older of the two.
   */
  publishInDoubt(source: string, left: Array<{ gid: string; shard: string; ageSeconds: number }>): void {
    this.bySource.set(source, left);
    const gids = new Set<string>();
    this.oldestInDoubtByShard.clear();
    for (const entries of this.bySource.values()) {
      for (const d of entries) {
        gids.add(d.gid);
        const oldest = this.oldestInDoubtByShard.get(d.shard) ?? 0;
        this.oldestInDoubtByShard.set(d.shard, Math.max(oldest, d.ageSeconds));
      }
    }
    this.inDoubt = gids.size;
  }

  countCompensation(outcome: string): void {
    this.compensations.set(outcome, (this.compensations.get(outcome) ?? 0) + 1);
  }

  observeResolve(seconds: number): void {
    this.resolveHistogram?.observe(seconds);
  }

  observeCommit(seconds: number): void {
    this.commitHistogram?.observe(seconds);
  }
}
