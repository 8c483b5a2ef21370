// The recoveries of one shardgate process, one per protocol (PostgreSQL prepared transactions,
// MariaDB XA), behind one face for /api/transactions and `shardgate txn`.
import type { InDoubt, TwoPhaseRecovery } from './recovery.js';

export class RecoveryGroup {
  constructor(private readonly members: readonly TwoPhaseRecovery[]) {}

  start(): void {
    for (const m of this.members) m.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()));
  }

  /** What is in doubt on every protocol's servers (a protocol that cannot be asked is left out). */
  async list(): Promise<InDoubt[]> {
    const lists = await Promise.allSettled(this.members.map((m) => m.list()));
    const out: InDoubt[] = [];
    for (const l of lists) if (l.status === 'fulfilled') out.push(...l.value);
    if (lists.length > 0 && lists.every((l) => l.status === 'rejected'))
      throw (lists[0] as PromiseRejectedResult).reason;
    return out;
  }

  /** One pass of every recovery. */
  async pass(): Promise<InDoubt[]> {
    return (await Promise.all(this.members.map((m) => m.pass()))).flat();
  }

  /** Resolves `gid` with the recovery whose servers or decision log know it. */
  async resolve(
    gid: string,
    want: 'auto' | 'commit' | 'abort',
  ): Promise<{ decision: string; servers: string[] }> {
    for (const m of this.members) {
      if (await m.holds(gid).catch(() => false)) return m.resolve(gid, want);
    }
    throw new Error(`no server holds transaction ${gid} prepared and no decision log knows it`);
  }
}
