// `shardgate status` and `shardgate rules ...`: readable tables over the admin API.
import type { Command } from 'commander';
import { adminOptions, adminRequest, printTable } from './admin-client.js';

interface TopologyServer {
  name: string;
  role: string;
  host: string;
  port: number;
  healthy: boolean;
  drained: boolean;
  lagMs: number | null;
  rttMs: number | null;
  outstanding: number;
}

interface TopologyJson {
  version: number;
  defaultShard: string;
  shards: Array<{
    name: string;
    keyRange: string;
    readOnly: boolean;
    primary: TopologyServer;
    replicas: TopologyServer[];
  }>;
}

export function registerAdminCommands(program: Command): void {
  program.option(
    '--admin-url <url>',
    'admin API of a running shardgate (default http://127.0.0.1:9930 or $SHARDGATE_ADMIN_URL)',
  );

  program
    .command('status')
    .description('show shards, servers, lag and alerts of a running shardgate')
    .option('--admin-url <url>', 'admin API URL')
    .option('--json', 'print raw JSON')
    .action(async (opts: Record<string, unknown>) => {
      const admin = adminOptions(program, opts);
      const topo = await adminRequest<TopologyJson>(admin, 'GET', '/api/topology');
      const shards = await adminRequest<unknown>(admin, 'GET', '/api/shards').catch(() => null);
      const alerts = await adminRequest<{ firing?: unknown[] }>(admin, 'GET', '/api/alerts').catch(
        () => null,
      );
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ topology: topo, shards, alerts }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`topology version ${topo.version}, default shard ${topo.defaultShard}\n\n`);
      const rows: Array<Array<string | number | null>> = [];
      for (const s of topo.shards) {
        for (const server of [s.primary, ...s.replicas]) {
          rows.push([
            s.name,
            s.keyRange,
            server.name,
            server.role,
            `${server.host}:${server.port}`,
            server.healthy ? (server.drained ? 'drained' : 'up') : 'DOWN',
            server.role === 'primary'
              ? '-'
              : server.lagMs === null
                ? 'unknown'
                : `${Math.round(server.lagMs)} ms`,
            server.rttMs === null ? null : `${server.rttMs.toFixed(2)} ms`,
            s.readOnly ? 'read-only' : '',
          ]);
        }
      }
      printTable(['shard', 'range', 'server', 'role', 'address', 'state', 'lag', 'rtt', 'rule'], rows);
      const firing = (alerts?.firing ?? []) as Array<{
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
      }>;
      if (firing.length) {
        process.stdout.write('\nalerts firing:\n');
        for (const a of firing) {
          process.stdout.write(
            `  [${a.labels?.severity}] ${a.labels?.alertname} ${a.labels?.shard ?? ''} ${a.annotations?.summary ?? ''}\n`,
          );
        }
      }
    });

  const rules = program.command('rules').description('read and change routing rules at run time');
  rules
    .command('list')
    .description('show data types, levels, floors, drained replicas and read-only shards')
    .option('--admin-url <url>', 'admin API URL')
    .action(async (opts: Record<string, unknown>) => {
      const admin = adminOptions(program, opts);
      const r = await adminRequest<{
        dataTypes: Record<string, { level: string; floor?: string; tables: string[]; maxLagMs?: number }>;
        drained: string[];
        readOnlyShards: string[];
      }>(admin, 'GET', '/api/rules');
      printTable(
        ['data type', 'level', 'floor', 'max lag', 'tables'],
        Object.entries(r.dataTypes).map(([name, d]) => [
          name,
          d.level,
          d.floor ?? null,
          d.maxLagMs ?? null,
          d.tables.join(', '),
        ]),
      );
      process.stdout.write(`\ndrained replicas: ${r.drained.join(', ') || 'none'}\n`);
      process.stdout.write(`read-only shards: ${r.readOnlyShards.join(', ') || 'none'}\n`);
    });
  /**
   * A rules change: the command's name is the API's action, and its arguments go as the fields
   * `args` names (`numbers` of them as numbers).
   */
  const change = (name: string, args: string, description: string, numbers: readonly string[] = []) =>
    rules
      .command(`${name} ${args}`)
      .description(description)
      .option('--admin-url <url>', 'admin API URL')
      .option('--token <token>', 'admin token (or $SHARDGATE_ADMIN_TOKEN)')
      .option('--persist', 'also write the change to the config file')
      .action(async (...all: unknown[]) => {
        const cmd = all[all.length - 1] as Command;
        const opts = cmd.opts() as Record<string, unknown>;
        const positional = all.slice(0, -2) as string[];
        const admin = adminOptions(program, opts);
        const fields = [...args.matchAll(/<(\w+)>/g)].map((m, i) => {
          const field = m[1]!;
          return [field, numbers.includes(field) ? Number(positional[i]) : positional[i]];
        });
        const body = { action: name, ...Object.fromEntries(fields), persist: Boolean(opts.persist) };
        const result = await adminRequest<{ message?: string }>(admin, 'POST', '/api/rules', body);
        process.stdout.write(`${result.message ?? 'ok'}\n`);
      });
  change('set-level', '<dataType> <level>', "set a data type's consistency level");
  change('set-floor', '<dataType> <floor>', "set a data type's floor (or 'none')");
  change('drain', '<server>', 'stop sending reads to a replica');
  change('undrain', '<server>', 'send reads to a drained replica again');
  change('read-only', '<shard>', 'refuse writes on a shard');
  change('read-write', '<shard>', 'accept writes on a shard again');
  change(
    'set-pool-size',
    '<shard> <size>',
    'set the server connections per server of a shard (overrides pool.size)',
    ['size'],
  );
}
