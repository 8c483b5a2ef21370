// COPY (query) TO STDOUT whose query needs several shards (CopyQueryOutPlan): the query is
// planned and run as any read (merged across shards as a SELECT would be, join-runner.ts's
// fetch), and shardgate writes its rows in the COPY's text or CSV format: one CopyOutResponse,
// the rows, CopyDone, `COPY n`. Simple protocol only, as the multi-shard COPY TO of a table.
import { ShardgateError } from '../../errors.js';
import { copyLine } from '../../executor/copy-text-out.js';
import { MergeBudget } from '../../executor/merge-budget.js';
import { groupEnd } from '../../sql/pg-masked-text.js';
import { maskSql } from '../../sql/scatter-rewrite.js';
import { encodeCommandComplete, encodeCopyOutResponse, encodeReadyForQuery } from './backend-messages.js';
import { textFormat } from './copy-in-runner.js';
import { FetchFailed, fetchRows } from './join-runner.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';
import type { Unit } from './units.js';

export async function runCopyQueryOut(
  cycle: QueryCycle,
  unit: Unit,
  statement: PlannedStatement,
): Promise<void> {
  const copy = statement.facts.copyOut?.format;
  if (!copy) throw new ShardgateError('INTERNAL', { detail: 'COPY (query) without its format' });
  if (!unit.simple)
    throw new ShardgateError('SCATTER_UNSUPPORTED', {
      detail:
        'COPY (query) TO STDOUT over several shards in the extended protocol (send it as a simple query)',
    });
  const routing = cycle.services.topology.view().routing;
  const budget = new MergeBudget(routing.maxMergeRows, routing.maxMergeBytes);
  let result: Awaited<ReturnType<typeof fetchRows>>;
  try {
    result = await fetchRows(cycle, innerQuery(statement.sql), budget);
    budget.check();
  } catch (err) {
    if (!(err instanceof FetchFailed)) throw err;
    cycle.session.write(Buffer.concat([err.raw, encodeReadyForQuery(cycle.state.txStatus)]));
    return;
  }
  const format = textFormat(copy, null);
  if (result.columns.some((c) => c.format === 'binary'))
    throw new ShardgateError('INTERNAL', { detail: 'binary columns in a COPY (query) result' });
  const out: Buffer[] = [encodeCopyOutResponse({ format: 0, columnFormats: result.columns.map(() => 0) })];
  const data = (line: string) => {
    const bytes = Buffer.from(line);
    const head = Buffer.allocUnsafe(5);
    head[0] = 0x64;
    head.writeUInt32BE(bytes.length + 4, 1);
    out.push(head, bytes);
  };
  if (copy.header)
    data(
      copyLine(
        result.columns.map((c) => c.name),
        format,
      ),
    );
  for (const row of result.rows)
    data(
      copyLine(
        row.map((cell) => (cell === null ? null : cell.toString('utf8'))),
        format,
      ),
    );
  out.push(Buffer.from([0x63, 0, 0, 0, 4])); // CopyDone
  out.push(encodeCommandComplete(`COPY ${result.rows.length}`));
  out.push(encodeReadyForQuery(cycle.state.txStatus));
  cycle.session.write(Buffer.concat(out));
}

/** The query between COPY's parentheses. */
function innerQuery(sql: string): string {
  const masked = maskSql(sql);
  const open = masked.indexOf('(');
  const end = groupEnd(masked, open);
  if (open < 0 || end > masked.length || masked[end - 1] !== ')')
    throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: 'a COPY whose query could not be located' });
  return sql.slice(open + 1, end - 1);
}
