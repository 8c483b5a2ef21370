// A session's write admissions at the cutover gate (cutover-gate.ts), the same for both front
// ends: taken per shard before a write, kept until the session's transaction ends, given back
// together.
import type { CutoverGate, GateParticipant } from './cutover-gate.js';

export class WriteAdmissions {
  private shards: Set<string> | null = null;

  constructor(
    private readonly gate: CutoverGate,
    private readonly participant: GateParticipant,
  ) {}

  /** Whether the session holds any admission. */
  get holding(): boolean {
    return this.shards !== null;
  }

  /** Takes admissions on `shards`; true when a cutover held them (plan again, then admit). */
  async admit(shards: readonly string[]): Promise<boolean> {
    for (const shard of shards) {
      if (this.shards?.has(shard)) continue;
      if ((await this.gate.admitWriter(this.participant, shard)) !== null) return true;
      (this.shards ??= new Set()).add(shard);
    }
    return false;
  }

  release(): void {
    this.shards = null;
    this.gate.releaseWriter(this.participant);
  }
}
