// `bench fuzz`: the long protocol fuzz run. A private PostgreSQL server, `shardgate start` as its
// own process, and several connections that log in (or not) and send generated frontend messages
// (bench/lib/fuzz-messages.ts) until --messages were sent. Reports messages, sessions, crashes
// (the proxy process exiting), bystander failures (a session connected all along must keep
// working) and the proxy's peak RSS (VmHWM).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import pg from 'pg';
import { configForLocalShards } from '../../src/local/local-config.js';
import { freePort, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { pgMessage, pgStartup, pgStartupJunk, prng } from '../lib/fuzz-messages.js';
import { shardgateCliPath } from '../lib/shardgate-process.js';

interface FuzzOptions {
  messages: number;
  connections: number;
  seed: number;
}

interface FuzzFigures {
  messages: number;
  sessions: number;
  crashes: number;
  bystanderFailures: number;
  bystanderChecks: number;
  peakRssKb: number;
  seconds: number;
}

function peakRssKb(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`shardgate did not listen on ${port} within ${ms} ms`);
}

/** One fuzz session: login (or junk startup), `count` messages, then close; resolves when closed. */
function session(port: number, chunks: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => socket.destroy(), 5_000);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
      socket.end();
    });
  });
}

export async function runFuzz(o: FuzzOptions, log: (line: string) => void): Promise<FuzzFigures> {
  const cluster = await startPostgresCluster({ shards: 2, replicasPerShard: 0, database: 'shardgate' });
  let proxy: ChildProcess | null = null;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'sg-bench-fuzz-'));
    const port = await freePort();
    const adminPort = await freePort();
    const config = configForLocalShards(
      cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
      {
        database: 'shardgate',
        overrides: {
          users: [{ name: 'fuzz', password: '', auth: 'trust', backend: 'service' }],
          listen: { postgres: { host: '127.0.0.1', port }, admin: { host: '127.0.0.1', port: adminPort } },
          migration: { stateDir: join(dir, 'migrations') },
          log: { level: 'error' },
        },
      },
    );
    const file = join(dir, 'shardgate.json');
    writeFileSync(file, JSON.stringify(config));
    proxy = spawn(process.execPath, [shardgateCliPath(), 'start', '--config', file], { stdio: 'ignore' });
    let crashes = 0;
    proxy.on('exit', () => crashes++);
    await waitForPort(port, 60_000);
    const pid = proxy.pid!;
    const bystander = new pg.Client({ host: '127.0.0.1', port, user: 'fuzz', database: 'shardgate' });
    bystander.on('error', () => undefined);
    await bystander.connect();
    const started = performance.now();
    let sent = 0;
    let sessions = 0;
    let checks = 0;
    let failures = 0;
    let nextCheck = 10_000;
    // One bystander query at a time (the connections share it).
    let checking = false;
    // One generator per connection: a connection's sessions replay with the same seed.
    const worker = async (index: number) => {
      const r = prng(o.seed * 1000 + index);
      while (sent < o.messages && crashes === 0) {
        const n = 1 + Math.floor(r() * 50);
        const junk = r() < 0.05;
        const chunks = junk
          ? Array.from({ length: 1 + Math.floor(r() * 3) }, () => pgStartupJunk(r))
          : [pgStartup('fuzz', 'shardgate'), ...Array.from({ length: n }, () => pgMessage(r))];
        sent += junk ? chunks.length : n;
        sessions++;
        await session(port, chunks);
        if (sent >= nextCheck && !checking) {
          checking = true;
          nextCheck += 10_000;
          checks++;
          const ok = await bystander.query('SELECT 40 + 2 AS n').then(
            (res) => res.rows[0]?.n === 42,
            () => false,
          );
          checking = false;
          if (!ok) failures++;
          if (checks % 10 === 0)
            log(`  ${sent} messages, ${sessions} sessions, peak RSS ${peakRssKb(pid)} kB`);
        }
      }
    };
    await Promise.all(Array.from({ length: o.connections }, (_, i) => worker(i)));
    const figures: FuzzFigures = {
      messages: sent,
      sessions,
      crashes,
      bystanderFailures: failures,
      bystanderChecks: checks,
      peakRssKb: peakRssKb(pid),
      seconds: (performance.now() - started) / 1000,
    };
    await bystander.end().catch(() => undefined);
    return figures;
  } finally {
    proxy?.kill('SIGKILL');
    await cluster.stop();
  }
}

export function registerFuzzCommand(parent: Command): void {
  parent
    .command('fuzz')
    .description(
      'protocol fuzz of the PostgreSQL front end against a `shardgate start` process: crashes, bystander, peak RSS',
    )
    .option('--messages <n>', 'messages to send in all', (v) => Number(v), 1_000_000)
    .option('--connections <n>', 'concurrent fuzz connections', (v) => Number(v), 8)
    .option('--seed <n>', 'PRNG seed (a run replays with the same seed)', (v) => Number(v), 1)
    .action(async (opts: FuzzOptions) => {
      const log = (line: string) => process.stdout.write(`${line}\n`);
      log(`bench fuzz: ${opts.messages} messages over ${opts.connections} connections, seed ${opts.seed}`);
      const f = await runFuzz(opts, log);
      log(
        `bench fuzz: ${f.messages} messages in ${f.sessions} sessions, ${f.seconds.toFixed(0)} s; crashes ${f.crashes}; bystander failures ${f.bystanderFailures} of ${f.bystanderChecks} checks; proxy peak RSS ${f.peakRssKb} kB`,
      );
      if (f.crashes > 0 || f.bystanderFailures > 0) process.exitCode = 1;
    });
}
