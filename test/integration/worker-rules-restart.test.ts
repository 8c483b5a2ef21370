// `shardgate start` with workers: 2 and no etcd (the primary process relays the rules; it restarts
// a worker that exits): a rule made through worker 0's admin API is in force on both workers
// (sessions land on each: the top bits of BackendKeyData's process id name the worker), and a
// worker SIGKILLed is restarted, serves again, and has the rule in force without being told again;
// a later change reaches it too. A clean SIGTERM then restarts nothing.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { childPgClient } from '../support/child-clients.js';
import { bothWorkersListening, pgWorkersSuite, WORKERS_ADMIN_TOKEN } from '../support/integ-pg-workers.js';
import { waitFor } from '../support/wait-for.js';

/** cancel-registry.ts: 31 bits, of which the top 6 name the worker. */
const workerOf = (processId: number) => processId >>> 25;

const w = pgWorkersSuite('sgr');

async function rule(body: object): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${w.proc.adminPort}/api/rules`, {
    method: 'POST',
    headers: { authorization: `Bearer ${WORKERS_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`POST /api/rules: ${r.status} ${await r.text()}`);
}

/** Opens sessions until one landed on `worker`; returns it (the others are closed). */
async function sessionOn(worker: number): Promise<pg.Client> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const c = await childPgClient(w.proc);
    const pid = (c as unknown as { processID: number }).processID;
    if (workerOf(pid) === worker) return c;
    await c.end();
  }
  throw new Error(`no session landed on worker ${worker} in 40 connections`);
}

/** The SQLSTATE of an insert on `worker` (null: it succeeded). */
async function insertOn(worker: number, id: number): Promise<string | null> {
  const c = await sessionOn(worker);
  try {
    await c.query('INSERT INTO kv (id, v) VALUES ($1, $2)', [id, `w${worker}`]);
    return null;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await c.end();
  }
}

/** The pids the primary logged for worker `index`, in start order. */
function pidsOf(index: number): number[] {
  const pids: number[] = [];
  for (const line of w.proc.output().split('\n')) {
    if (!line.includes('worker process started')) continue;
    try {
      const o = JSON.parse(line) as { worker: number; pid: number };
      if (o.worker === index) pids.push(o.pid);
    } catch {}
  }
  return pids;
}

async function worker1Reachable(): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${w.proc.adminPort}/api/cluster`);
  const members = ((await r.json()) as { members: Array<{ id: string; reachable: boolean }> }).members;
  return members.some((m) => m.id === 'sgr.w1' && m.reachable);
}

describe('workers: 2 without etcd: rules reach every worker, a worker that dies is restarted', () => {
  it('applies a rule on both workers, and on a restarted worker', async () => {
    await bothWorkersListening(w.proc);
    const setup = await sessionOn(0);
    await setup.query('CREATE TABLE kv (id int PRIMARY KEY, v text)');
    await setup.end();
    expect(await insertOn(0, 1)).toBeNull();
    expect(await insertOn(1, 2)).toBeNull();

    // Made through worker 0's admin API, in force on worker 1 too.
    await rule({ action: 'read-only', shard: 's0' });
    expect(await insertOn(0, 3)).toBe('25006');
    expect(await insertOn(1, 4)).toBe('25006');

    const [firstPid] = pidsOf(1);
    expect(firstPid).toBeGreaterThan(0);
    process.kill(firstPid!, 'SIGKILL');
    await waitFor('worker 1 restarted', async () => pidsOf(1).length >= 2, 60_000, 100);
    expect(pidsOf(1)[1]).not.toBe(firstPid);
    expect(w.proc.output()).toContain('worker process exited unexpectedly: restarting it');
    await waitFor('the restarted worker 1 answers the cluster view', worker1Reachable, 60_000, 200);

    // The restarted worker serves, with the rule in force (nobody told it again).
    expect(await insertOn(1, 5)).toBe('25006');
    // And a later change reaches it.
    await rule({ action: 'read-write', shard: 's0' });
    expect(await insertOn(1, 6)).toBeNull();
    expect(await insertOn(0, 7)).toBeNull();
    expect(w.proc.exited()).toBeNull();

    // A clean SIGTERM ends every worker and restarts none.
    const live = [pidsOf(0)[0]!, pidsOf(1)[1]!];
    await w.proc.stop();
    await waitFor(
      'both workers gone',
      () =>
        live.every((pid) => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        }),
      30_000,
      100,
    );
    expect(w.proc.output().match(/exited unexpectedly/g)).toHaveLength(1);
    expect(pidsOf(1)).toHaveLength(2);
  }, 240_000);
});
