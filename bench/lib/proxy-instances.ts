// One shardgate instance, or several sharing a 3-member etcd control plane (docs/control-plane.md),
// for the split bench: the first instance runs the migration (the controller), the others take part
// in its fenced cutover. Each member's own block (hold to release, from its log line
// "cutover hold for another instance released") is collected for the report.
import pino from 'pino';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { EtcdControl } from '../../src/control/etcd-control.js';
import { EtcdCluster } from '../../src/local/etcd-cluster.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';

export interface MemberHold {
  instance: string;
  outcome: string;
  blockMs: number;
  heldStatements: number;
}

export interface ProxyInstances {
  /** The controller first. */
  proxies: ProxyHandle[];
  urls: string[];
  /** Every hold a non-controller instance released, in the order they were logged. */
  memberHolds: MemberHold[];
  close(): Promise<void>;
}

/** A logger that keeps only the member-side hold reports of `instance`. */
function holdRecorder(instance: string, into: MemberHold[]) {
  return pino(
    { level: 'info' },
    {
      write(line: string) {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (o.msg !== 'cutover hold for another instance released') return;
        into.push({
          instance,
          outcome: String(o.outcome),
          blockMs: Number(o.blockMs),
          heldStatements: Number(o.heldStatements),
        });
      },
    },
  );
}

/**
 * `url` names the port the writers use (PostgreSQL's or MySQL's); with `config.listen.mysql` set,
 * every instance also serves MySQL on a free port.
 */
export async function startInstances(
  config: ShardgateConfig,
  count: number,
  url: (p: ProxyHandle) => string = (p) => `postgres://app:app@127.0.0.1:${p.postgres.port}/shardgate`,
): Promise<ProxyInstances> {
  const mysqlPort = config.listen.mysql ? { mysqlPort: 0 } : {};
  if (count <= 1) {
    const proxy = await startProxy(config, {
      log: silentLogger(),
      postgresPort: 0,
      adminPort: 0,
      ...mysqlPort,
    });
    return { proxies: [proxy], urls: [url(proxy)], memberHolds: [], close: () => proxy.close() };
  }
  const etcd = await EtcdCluster.start({ members: 3 });
  const memberHolds: MemberHold[] = [];
  const proxies: ProxyHandle[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const id = `i${i + 1}`;
      proxies.push(
        await startProxy(config, {
          log: i === 0 ? silentLogger() : holdRecorder(id, memberHolds),
          postgresPort: 0,
          ...mysqlPort,
          adminPort: i === 0 ? 0 : null,
          instanceId: id,
          control: new EtcdControl({ endpoints: etcd.endpoints, namespace: 'bench' }, silentLogger()),
        }),
      );
    }
  } catch (err) {
    await Promise.all(proxies.map((p) => p.close()));
    await etcd.stop();
    throw err;
  }
  return {
    proxies,
    urls: proxies.map(url),
    memberHolds,
    close: async () => {
      await Promise.all(proxies.map((p) => p.close()));
      await etcd.stop();
    },
  };
}
