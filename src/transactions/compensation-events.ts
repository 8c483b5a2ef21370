// The one event of a compensate-mode transaction that did not simply commit: a log line, the
// alert webhook (Alertmanager shape, already resolved: a notice, not a condition), and its
// record in /api/transactions. The application uses it to tell the user (the "apology").
import type { Logger } from 'pino';
import type { AlertManager } from '../observability/alerts.js';
import type { Announce, CompensationRecord } from './compensating.js';

const SUMMARY: Record<string, string> = {
  compensated: 'a cross-shard transaction was undone by its compensating statements',
  failed: 'a cross-shard transaction could not be fully undone: its compensation failed',
  committed: 'a cross-shard transaction in doubt turned out committed on every shard',
  aborted: 'a cross-shard transaction in doubt turned out committed on no shard',
  resolved: 'a cross-shard transaction whose compensation could not run was repaired by an operator',
};

export function compensationAnnouncer(log: Logger, alerts: AlertManager | null): Announce {
  return (record: CompensationRecord) => {
    const servers = record.participants.map((p) => p.server);
    log.warn(
      {
        event: 'compensation',
        id: record.id,
        outcome: record.state,
        servers,
        compensated: record.compensate,
        detail: record.detail,
      },
      SUMMARY[record.state] ?? `a cross-shard transaction ended ${record.state}`,
    );
    const now = Date.now();
    alerts?.announce({
      status: 'resolved',
      alertname: 'ShardgateCompensation',
      severity: record.state === 'failed' ? 'critical' : 'warning',
      metric: 'compensation',
      shard: record.participants.map((p) => p.shard).join(','),
      replica: null,
      value: record.compensate.length,
      threshold: 0,
      op: '>',
      summary: `${SUMMARY[record.state] ?? record.state} (${record.id})`,
      description: `transaction ${record.id} on ${servers.join(', ')}: ${record.state}; undone on ${record.compensate.join(', ') || 'none'}; ${record.detail}`,
      recommendation:
        record.state === 'failed'
          ? 'the committed part is still in place: repair it by hand, see /api/transactions'
          : null,
      startsAt: now,
      endsAt: now,
    });
  };
}
