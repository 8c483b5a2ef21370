// `shardgate migrate split|move-table|merge|status|resume|verify|cleanup|rollback|abort`: a client of the running
// proxy's /api/migrations (the split runs inside the proxy, which owns the sessions the cutover
// block holds). `split` and `resume` follow the migration with a progress bar until it settles.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { migrationSummary } from '../admin/api-migrations.js';
import type { SplitPlan } from '../migration/plan.js';
import { type AdminClientOptions, adminOptions, adminRequest, printTable, table } from './admin-client.js';

type Summary = ReturnType<typeof migrationSummary>;

/** Phases in which a follower stops waiting: the operator decides what comes next. */
const SETTLED = new Set(['verified', 'cleaned', 'rolled_back', 'aborted']);

export function registerMigrateCommand(program: Command): void {
  const migrate = program
    .command('migrate')
    .description('live shard splits: plan, run and follow them on a running shardgate');

  const common = (c: Command) =>
    c
      .option('--admin-url <url>', 'admin API URL (default http://127.0.0.1:9930 or $SHARDGATE_ADMIN_URL)')
      .option('--token <token>', 'admin token (or $SHARDGATE_ADMIN_TOKEN)');

  /** The options every migration-starting command (split, move-table, merge) shares. */
  const startCommand = (c: Command) =>
    common(
      c
        .option('--verify <mode>', 'verification after the switch: full | sample:N', 'sample:20')
        .option('--dry-run', 'print the plan and change nothing')
        .option('--no-follow', 'return once started instead of following the progress')
        .option('--json', 'print JSON'),
    );

  startCommand(
    migrate
      .command('split <shard>')
      .description('split a shard in two while traffic continues (throttled copy, capture, bounded cutover)')
      .requiredOption('--targets <a,b>', 'two servers from migration.spares to take the halves')
      .option(
        '--at <point>',
        'keyspace split point as hex ("8c", "0x8c4f"), or "auto" (the advisor\'s balancing point)',
        'auto',
      ),
  ).action(async (shard: string, opts: Record<string, unknown>) => {
    const admin = adminOptions(program, opts);
    const targets = String(opts.targets)
      .split(',')
      .map((t) => t.trim());
    if (targets.length !== 2 || !targets[0] || !targets[1]) {
      throw new Error('--targets takes exactly two server names, e.g. --targets spare1,spare2');
    }
    const body = { shard, at: opts.at, targets, verify: opts.verify, dryRun: opts.dryRun === true };
    await startMigration(admin, body, opts);
  });

  startCommand(
    migrate
      .command('move-table <table>')
      .description(
        'move an unsharded table to another shard while traffic continues (copy, capture, bounded cutover)',
      )
      .requiredOption('--to <shard>', "the shard that becomes the table's home"),
  ).action(async (tableName: string, opts: Record<string, unknown>) => {
    const admin = adminOptions(program, opts);
    const body = { table: tableName, to: opts.to, verify: opts.verify, dryRun: opts.dryRun === true };
    await startMigration(admin, body, opts);
  });

  startCommand(
    migrate
      .command('merge <a> <b>')
      .description(
        'merge two shards owning adjacent key ranges into one on a spare server while traffic continues',
      )
      .requiredOption('--into <server>', 'a server from migration.spares to hold the merged shard'),
  ).action(async (a: string, b: string, opts: Record<string, unknown>) => {
    const admin = adminOptions(program, opts);
    const body = { merge: [a, b], into: opts.into, verify: opts.verify, dryRun: opts.dryRun === true };
    await startMigration(admin, body, opts);
  });

  common(
    migrate
      .command('status [id]')
      .description('list migrations and their phases, or show one')
      .option('--json', 'print JSON'),
  ).action(async (id: string | undefined, opts: Record<string, unknown>) => {
    const admin = adminOptions(program, opts);
    if (id) {
      const one = await adminRequest<Summary & { running: boolean }>(admin, 'GET', `/api/migrations/${id}`);
      process.stdout.write(opts.json ? `${JSON.stringify(one, null, 2)}\n` : renderOne(one));
      return;
    }
    const list = await adminRequest<Summary[]>(admin, 'GET', '/api/migrations');
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return;
    }
    if (list.length === 0) {
      process.stdout.write('no migrations\n');
      return;
    }
    printTable(
      ['id', 'shard', 'at', 'phase', 'copied', 'block ms', 'status'],
      list.map((m) => [
        m.id,
        m.shard,
        m.at,
        m.phase,
        `${m.copy.rows}/${m.copy.estimatedRows}`,
        m.cutover?.blockMs ?? null,
        m.status,
      ]),
    );
  });

  const action = (name: string, description: string, followAfter: boolean) =>
    common(migrate.command(`${name} <id>`).description(description).option('--json', 'print JSON')).action(
      async (id: string, opts: Record<string, unknown>) => {
        const admin = adminOptions(program, opts);
        const { migration } = await adminRequest<{ migration: Summary }>(
          admin,
          'POST',
          `/api/migrations/${id}/${name}`,
        );
        if (!followAfter) {
          process.stdout.write(opts.json ? `${JSON.stringify(migration, null, 2)}\n` : renderOne(migration));
          return;
        }
        // A verification settles when it leaves `verifying`: back in `switched` means it failed.
        const end = await follow(admin, id, opts.json === true, name === 'verify');
        process.exitCode = end.phase === 'aborted' || (name === 'verify' && end.phase !== 'verified') ? 1 : 0;
      },
    );
  action('resume', 'continue a migration from its last checkpoint (after a crash or failed cutovers)', true);
  action('verify', 'verify the moved rows again (counts and checksums per key-ordered chunk)', true);
  action('cleanup', 'delete the moved rows from the source (only after a passed verification)', false);
  action('rollback', 'return traffic to the source, carrying back the writes made since the switch', false);
  action('abort', 'stop a migration before its switch; the source stays untouched', false);
}

/**
 * POSTs a migration request: with --dry-run prints the plan only; otherwise starts it and, unless
 * --no-follow, follows it until it settles (exit code 0 when it ends verified or cleaned).
 */
async function startMigration(
  admin: AdminClientOptions,
  body: Record<string, unknown>,
  opts: Record<string, unknown>,
): Promise<void> {
  if (opts.dryRun) {
    const { plan } = await adminRequest<{ plan: SplitPlan }>(admin, 'POST', '/api/migrations', body);
    process.stdout.write(opts.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan));
    return;
  }
  const started = await adminRequest<{ migration: Summary; plan: SplitPlan }>(
    admin,
    'POST',
    '/api/migrations',
    body,
  );
  if (!opts.json)
    process.stdout.write(`${renderPlan(started.plan)}\nmigration ${started.migration.id} started\n`);
  if (opts.follow === false) {
    if (opts.json) process.stdout.write(`${JSON.stringify(started.migration, null, 2)}\n`);
    return;
  }
  const end = await follow(admin, started.migration.id, opts.json === true);
  process.exitCode = end.phase === 'verified' || end.phase === 'cleaned' ? 0 : 1;
}

/**
 * Polls a migration until it settles (or stops making progress), with a progress bar on a TTY.
 * `verifyOnly`: a verification of a switched migration, which settles when it leaves `verifying`
 * (a failed one returns to `switched`, where the reverse capture keeps running).
 */
async function follow(
  admin: AdminClientOptions,
  id: string,
  json: boolean,
  verifyOnly = false,
): Promise<Summary> {
  const bar =
    process.stderr.isTTY && !json
      ? new cliProgress.SingleBar(
          { format: '{phase} |{bar}| {percentage}% {value}/{total} rows | {status}', hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : null;
  let last: (Summary & { running: boolean }) | null = null;
  let lastLine = '';
  bar?.start(1, 0, { phase: 'planned', status: '' });
  try {
    for (;;) {
      last = await adminRequest<Summary & { running: boolean }>(admin, 'GET', `/api/migrations/${id}`);
      const total = Math.max(1, last.copy.estimatedRows);
      if (bar) {
        bar.setTotal(total);
        bar.update(Math.min(last.copy.rows, total), { phase: last.phase, status: last.status.slice(0, 70) });
      } else if (!json) {
        const line = `${last.phase}: ${last.status} (${last.copy.rows}/${last.copy.estimatedRows} rows)`;
        if (line !== lastLine) process.stderr.write(`${line}\n`);
        lastLine = line;
      }
      if (SETTLED.has(last.phase) || !last.running || (verifyOnly && last.phase !== 'verifying')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    bar?.stop();
  }
  process.stdout.write(json ? `${JSON.stringify(last, null, 2)}\n` : renderOne(last));
  return last;
}

function renderPlan(plan: SplitPlan): string {
  const lines = [
    plan.move
      ? `move ${plan.move.table} from ${plan.sourceShard} (${plan.source.name}) to ${plan.move.to}`
      : plan.merge
        ? `merge ${plan.merge.sources.map((s) => `${s.shard} (${s.range}, ${s.server.name})`).join(' and ')}`
        : `split ${plan.sourceShard} (${plan.sourceRange}, ${plan.source.name}) at ${plan.at} (${plan.atChosenBy === 'advisor' ? 'advisor balancing point' : 'given'})`,
    ...plan.targets.map(
      (t) => `  -> ${t.shard} ${t.range} on ${t.server.name} (${t.server.host}:${t.server.port})`,
    ),
    '',
    table(
      ['table', 'kind', 'shard key', 'rows', 'size'],
      plan.tables.map((t) => [
        t.name,
        t.kind ?? 'sharded',
        t.shardKey,
        t.rows,
        `${(t.bytes / 1024 / 1024).toFixed(1)} MiB`,
      ]),
    ),
    '',
    `estimated copy: ${formatSeconds(plan.estimatedCopySeconds)} at ${plan.throttle.rowsPerSecond} rows/s`,
    'strategy:',
    ...plan.strategy.map((s) => `  - ${s}`),
    'rollback:',
    ...plan.rollback.map((s) => `  - ${s}`),
  ];
  return `${lines.join('\n')}\n`;
}

function renderOne(m: Summary): string {
  const lines = [
    `${m.id}: ${m.phase}`,
    `  ${m.status}`,
    m.operation === 'move'
      ? `  move ${m.table} from ${m.shard} to ${m.targets.map((t) => `${t.shard} (${t.server})`).join(', ')}`
      : m.operation === 'merge'
        ? `  merge ${m.shards?.join(' and ')} -> ${m.targets.map((t) => `${t.shard} ${t.range} (${t.server})`).join(', ')}`
        : `  split ${m.shard} at ${m.at} -> ${m.targets.map((t) => `${t.shard} ${t.range} (${t.server})`).join(', ')}`,
    `  copied ${m.copy.rows} of ~${m.copy.estimatedRows} rows, ${(m.copy.bytes / 1024 / 1024).toFixed(1)} MiB`,
  ];
  if (m.capture.lagBytes !== null) lines.push(`  capture lag ${m.capture.lagBytes} bytes`);
  if (m.cutover) {
    const c = m.cutover;
    lines.push(
      `  cutover: ${c.outcome} after ${c.attempts} attempt(s), block ${c.blockMs} ms, ${c.heldStatements} statements held (max ${c.maxHeldMs} ms, p99 ${c.p99HeldMs} ms), ${c.abortedTransactions} transactions aborted with 40001`,
    );
  }
  if (m.verify) {
    lines.push(
      `  verify: ${m.verify.rows} rows in ${m.verify.chunks} chunks, ${m.verify.mismatches.length} mismatching`,
    );
    for (const x of m.verify.mismatches.slice(0, 10)) {
      lines.push(
        `    ${x.table} (${x.fromKey?.join(',') ?? 'start'}, ${x.toKey?.join(',') ?? 'end'}]: source ${x.sourceRows} rows, targets ${x.targetRows}${x.rows?.length ? `; differing keys ${x.rows.map((k) => k.join(',')).join(' ')}` : ''}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
