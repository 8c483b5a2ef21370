// Disaster-recovery tests the operators ran (restored a shard from backup, promoted a replica...),
// recorded by hand (`shardgate report dr-test --record`, POST /api/dr-tests) for the monthly
// report's "last recorded disaster-recovery test". Kept in their own JSON-lines file in the
// history directory rather than among the samples: such tests are months apart, and the samples'
// retention would drop the last one before the next is due. Bounded: the newest MAX_KEPT records.
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const DR_OUTCOMES = ['passed', 'failed'] as const;
export type DrOutcome = (typeof DR_OUTCOMES)[number];

export interface DrTestRecord {
  /** When the test ran (epoch ms). */
  t: number;
  outcome: DrOutcome;
  /** What was tested and how long it took, in the operator's words. */
  note: string;
}

const FILE = 'dr-tests.jsonl';
const MAX_KEPT = 100;
export const MAX_NOTE_CHARS = 1_000;

export class DrTestLog {
  readonly file: string;
  /** Appends and rewrites run one at a time. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(dir: string) {
    this.file = path.join(dir, FILE);
  }

  /** Validates and stores one test; throws a RangeError that says what is wrong with the input. */
  record(input: { note: unknown; outcome?: unknown; at?: unknown }, now = Date.now()): Promise<DrTestRecord> {
    const note = typeof input.note === 'string' ? input.note.trim() : '';
    if (note === '' || note.length > MAX_NOTE_CHARS)
      throw new RangeError(
        `note must be 1 to ${MAX_NOTE_CHARS} characters: what was restored, and how long it took`,
      );
    const outcome = input.outcome ?? 'passed';
    if (!DR_OUTCOMES.includes(outcome as DrOutcome))
      throw new RangeError(`outcome must be one of ${DR_OUTCOMES.join(', ')}`);
    let t = now;
    if (input.at !== undefined && input.at !== null && input.at !== '') {
      t = typeof input.at === 'number' ? input.at : Date.parse(String(input.at));
      if (!Number.isFinite(t) || t > now + 60_000)
        throw new RangeError('at must be a past ISO time or epoch ms');
    }
    const rec: DrTestRecord = { t, outcome: outcome as DrOutcome, note };
    const run = async () => {
      await mkdir(path.dirname(this.file), { recursive: true });
      const before = await readFile(this.file, 'utf8').catch(() => '');
      // A line torn by a crash is ended first, or it would swallow this record.
      const lead = before !== '' && !before.endsWith('\n') ? '\n' : '';
      await appendFile(this.file, `${lead}${JSON.stringify(rec)}\n`);
      const all = await this.readAll();
      if (all.length > MAX_KEPT) {
        const kept = all.slice(-MAX_KEPT);
        await writeFile(`${this.file}.tmp`, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
        await rename(`${this.file}.tmp`, this.file);
      }
      return rec;
    };
    const done = this.chain.then(run, run);
    this.chain = done.catch(() => undefined);
    return done;
  }

  /** Every kept record, oldest test first. */
  async list(): Promise<DrTestRecord[]> {
    await this.chain;
    return (await this.readAll()).sort((a, b) => a.t - b.t);
  }

  /** The most recent test (by when it ran), or null. */
  async last(): Promise<DrTestRecord | null> {
    return (await this.list()).at(-1) ?? null;
  }

  private async readAll(): Promise<DrTestRecord[]> {
    const text = await readFile(this.file, 'utf8').catch(() => '');
    const out: DrTestRecord[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const r = JSON.parse(line) as DrTestRecord;
        if (typeof r.t === 'number' && typeof r.note === 'string') out.push(r);
      } catch {
        // a line torn by a crash mid-append
      }
    }
    return out;
  }
}
