// `shardgate bench split --quick` (and `--operation merge|move`, and `--protocol mysql`): the
// cutover load test in small, so it cannot rot. It asserts what the scenario checks (ledger,
// errors, RYW), never its timings.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSplitBench } from '../../bench/scenarios/split.js';

describe('bench split --quick', () => {
  it.each([
    ['postgres', 'split'],
    ['postgres', 'merge'],
    ['postgres', 'move'],
    ['mysql', 'split'],
  ] as const)(
    '%s %s under a paced write load: the block reported, a clean ledger',
    async (protocol, operation) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-bench-split-'));
      const lines: string[] = [];
      const { ok, result } = await runSplitBench({
        operation,
        protocol,
        writesPerSecond: 200,
        writers: 4,
        readers: 2,
        users: 200,
        warmupSeconds: 1,
        cooldownSeconds: 1,
        // The binlog capture (one round trip per change) catches up slower than the PostgreSQL slot
        // on a loaded machine; the deadline only bounds the block (an attempt past it aborts and
        // retries), and this test asserts no timing.
        cutoverDeadlineMs: protocol === 'mysql' ? 10_000 : 2_000,
        rowsPerSecond: 50_000,
        resultsDir: dir,
        log: (l) => lines.push(l),
      });
      expect(ok, lines.join('\n')).toBe(true);
      expect(result.protocol).toBe(protocol);
      expect(result.migration.phase).toBe('verified');
      expect(result.ledger.problems).toEqual([]);
      expect(result.migration.cutover?.outcome).toBe('switched');
      expect(result.load_.auditInserts).toBeGreaterThan(0);
      const named = operation === 'split' ? 'split' : `migrate-${operation}`;
      const scenario = protocol === 'mysql' ? `mysql-${named}` : named;
      const written = JSON.parse(readFileSync(path.join(dir, `${scenario}-latest.json`), 'utf8'));
      expect(written.migration.cutover.heldStatements).toBeGreaterThanOrEqual(0);
      expect(lines.join('\n')).toContain('held delay max / p99');
    },
    // Generous: at load 40+ on 2 shared cores a MariaDB split's catch-up alone took minutes.
    600_000,
  );
});
