// `shardgate txn list|resolve`: cross-shard transactions in doubt on a running shardgate, a client
// of its /api/transactions. Recovery resolves them on its own (at start and every
// transactions.recoveryIntervalMs); `resolve` does it now for one, from the decision log. `list`
// also shows compensate-mode transactions that were undone (or are being decided, or retried);
// `resolve sgcomp_...` runs one's recovery now, `--repaired` ends one repaired by hand.
import type { Command } from 'commander';
import type { CompensationRecord } from '../transactions/compensating.js';
import type { InDoubt } from '../transactions/recovery.js';
import { adminOptions, adminRequest, printTable } from './admin-client.js';

interface TransactionsJson {
  inDoubt: InDoubt[];
  commits: number;
  aborts: number;
  unknownOutcomes: number;
  recoveredCommits: number;
  recoveredAborts: number;
  /** Compensate mode: the latest transactions undone, failed to undo, or being decided. */
  compensations?: CompensationRecord[];
  /** A protocol's compensation log that could not be read: protocol -> error. */
  compensationLogsUnreadable?: Record<string, string>;
}

export function registerTxnCommand(program: Command): void {
  const txn = program
    .command('txn')
    .description(
      'cross-shard (two-phase) transactions in doubt: list them, resolve one from the decision log',
    );

  const common = (c: Command) =>
    c
      .option('--admin-url <url>', 'admin API URL (default http://127.0.0.1:9930 or $SHARDGATE_ADMIN_URL)')
      .option('--token <token>', 'admin token (or $SHARDGATE_ADMIN_TOKEN)')
      .option('--json', 'print JSON');

  common(
    txn
      .command('list')
      .description('prepared transactions waiting for recovery, their decision and age, and the counters'),
  ).action(async (opts: Record<string, unknown>) => {
    const out = await adminRequest<TransactionsJson>(adminOptions(program, opts), 'GET', '/api/transactions');
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    const counters = `commits ${out.commits}, aborts ${out.aborts}, outcome unknown ${out.unknownOutcomes}, recovered ${out.recoveredCommits} committed / ${out.recoveredAborts} rolled back`;
    const compensations = out.compensations ?? [];
    for (const [protocol, err] of Object.entries(out.compensationLogsUnreadable ?? {}))
      process.stdout.write(`the ${protocol} compensation log could not be read: ${err}\n`);
    if (compensations.length > 0)
      printTable(
        ['compensate-mode id', 'state', 'servers', 'undone on', 'age s', 'tries', 'detail'],
        compensations.map((r) => [
          r.id,
          r.state,
          r.participants.map((p) => p.server).join(', '),
          r.compensate.join(', '),
          Math.round(r.ageSeconds),
          r.attempts ?? 0,
          r.state === 'compensating' && r.lastError
            ? `${r.detail}; last try: ${r.lastError}; next in ${Math.ceil(r.retryInSeconds)} s`
            : r.detail,
        ]),
      );
    if (out.inDoubt.length === 0) {
      process.stdout.write(`nothing in doubt (${counters})\n`);
      return;
    }
    printTable(
      ['gid', 'protocol', 'shard', 'server', 'age s', 'decision', 'note'],
      out.inDoubt.map((d) => [
        d.gid,
        d.protocol,
        d.shard,
        d.server,
        Math.round(d.ageSeconds),
        d.decision ?? 'none yet (rolled back when old enough)',
        d.unreachable ? 'server unreachable' : '',
      ]),
    );
    process.stdout.write(`${counters}\n`);
  });

  common(
    txn
      .command('resolve <gid>')
      .description(
        'resolve one in-doubt transaction now: as the decision log says (default), or insist with --commit / --abort (refused when the log disagrees); a compensate-mode id (sgcomp_...): run its compensation now, or --repaired',
      )
      .option('--commit', 'expect the logged decision to be commit')
      .option('--abort', 'roll it back (refused when it was decided commit)')
      .option(
        '--repaired',
        'compensate mode: its committed part was repaired by hand; stop retrying its compensation',
      ),
  ).action(async (gid: string, opts: Record<string, unknown>) => {
    if ([opts.commit, opts.abort, opts.repaired].filter(Boolean).length > 1)
      throw new Error('choose one of --commit, --abort, --repaired');
    const action = opts.commit ? 'commit' : opts.abort ? 'abort' : opts.repaired ? 'repaired' : 'auto';
    const out = await adminRequest<{
      gid: string;
      decision: string;
      servers: string[];
      compensation?: CompensationRecord;
    }>(adminOptions(program, opts), 'POST', `/api/transactions/${encodeURIComponent(gid)}/resolve`, {
      action,
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    if (out.compensation) {
      const r = out.compensation;
      const more = r.state === 'compensating' ? ` (try ${r.attempts} failed: ${r.lastError})` : '';
      process.stdout.write(`${out.gid}: ${r.state}${more}\n`);
      return;
    }
    const where = out.servers.length > 0 ? out.servers.join(', ') : 'no server still held it';
    process.stdout.write(
      `${out.gid}: ${out.decision === 'commit' ? 'committed' : 'rolled back'} (${where})\n`,
    );
  });
}
