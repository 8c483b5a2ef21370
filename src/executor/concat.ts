// Concatenation: every shard's rows, shard by shard, in the order each shard sent them.
import type { Row } from './rows.js';

export function concatShards(perShard: ReadonlyArray<readonly Row[] | undefined>): Row[] {
  const out: Row[] = [];
  for (const list of perShard) if (list) for (const r of list) out.push(r);
  return out;
}
