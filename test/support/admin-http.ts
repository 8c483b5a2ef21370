// Reads of a proxy's admin HTTP port that several integration tests make.
import { expect } from 'vitest';

/** The value of the metric line named exactly `line` (name and labels); 0 when absent (not yet counted). */
export async function metricValue(adminPort: number, line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.split(' ')[1]) : 0;
}

export interface ListedCompensation {
  id: string;
  state: string;
  compensate: string[];
  announced: boolean;
}

/** The compensate-mode records GET /api/transactions lists, newest first. */
export async function compensationRecords(adminPort: number, token: string): Promise<ListedCompensation[]> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/api/transactions`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { compensations: ListedCompensation[] }).compensations;
}
