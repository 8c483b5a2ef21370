// What both oracles' topologies share (pg-topology.ts, mysql-topology.ts): a topology is an
// unsharded oracle client and a client through shardgate on one config; a cluster starts its
// servers once and serves several topologies, each stopped with it.
import type { ShardgateConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, type ProxyOptions, startProxy } from '../../src/proxy.js';

export interface OracleTopology<C> {
  shards: number;
  proxy: ProxyHandle;
  config: ShardgateConfig;
  /** A client on this topology's unsharded oracle database. */
  oracle: C;
  /** A client through shardgate. */
  shardgate: C;
  /** Destroys one side's client (a statement ran past the time limit) and opens a new one. */
  reconnect(side: 'oracle' | 'shardgate'): Promise<C>;
  /** Stops shardgate and closes the clients (the servers belong to the cluster). */
  stop(): Promise<void>;
}

export interface OracleCluster<K, C> {
  cluster: K;
  /** A fresh topology on the first `shards` shards (databases sg<shards> and oracle<shards>). */
  topology(shards: number, users: number): Promise<OracleTopology<C>>;
  stop(): Promise<void>;
}

/** The protocol's part of opening a topology whose shards already hold the demo rows. */
export interface TopologyClients<C> {
  /** A client on the (empty) oracle database. */
  openOracle(): Promise<C>;
  /** Loads the demo schema and every row into the oracle database. */
  loadOracle(oracle: C): Promise<void>;
  proxyOptions: Partial<ProxyOptions>;
  openShardgate(proxy: ProxyHandle): Promise<C>;
  close(client: C): Promise<void>;
  /** Drops the client's socket at once, without waiting for its running statement. */
  destroy(client: C): void;
}

/** Opens the oracle, shardgate and a client through it; on a failure closes what it opened. */
export async function openOracleTopology<C>(
  shards: number,
  config: ShardgateConfig,
  side: TopologyClients<C>,
): Promise<OracleTopology<C>> {
  const opened: C[] = [];
  const closeAll = () => Promise.all(opened.map((c) => side.close(c)));
  let proxy: ProxyHandle | null = null;
  try {
    const oracle = await side.openOracle();
    opened.push(oracle);
    await side.loadOracle(oracle);
    proxy = await startProxy(config, { log: silentLogger(), ...side.proxyOptions });
    const shardgate = await side.openShardgate(proxy);
    opened.push(shardgate);
    const handle = proxy;
    const clients = { oracle, shardgate };
    return {
      shards,
      proxy: handle,
      config,
      get oracle() {
        return clients.oracle;
      },
      get shardgate() {
        return clients.shardgate;
      },
      async reconnect(which) {
        side.destroy(clients[which]);
        clients[which] = which === 'oracle' ? await side.openOracle() : await side.openShardgate(handle);
        return clients[which];
      },
      async stop() {
        await Promise.all([side.close(clients.oracle), side.close(clients.shardgate)]);
        await handle.close();
      },
    };
  } catch (err) {
    await closeAll();
    await proxy?.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The config overrides of every topology: each data type at level strong, so replica lag plays no
 * part, and no observability server.
 */
export function strongOverrides(dataTypes: ShardgateConfig['dataTypes']) {
  return {
    routing: { defaultLevel: 'strong' as const },
    dataTypes: Object.fromEntries(Object.keys(dataTypes).map((name) => [name, { level: 'strong' as const }])),
    observability: { enabled: false },
  };
}

/** Topologies on demand over one started cluster; stop() stops them and then the servers. */
export function oracleCluster<
  K extends { shards: readonly unknown[]; stop(o: { immediate: boolean }): Promise<void> },
  C,
>(cluster: K, start: (shards: number, users: number) => Promise<OracleTopology<C>>): OracleCluster<K, C> {
  const running: OracleTopology<C>[] = [];
  return {
    cluster,
    async topology(shards, users) {
      if (shards > cluster.shards.length)
        throw new Error(`the cluster has ${cluster.shards.length} shards, not ${shards}`);
      const t = await start(shards, users);
      running.push(t);
      return t;
    },
    async stop() {
      for (const t of running) await t.stop().catch(() => undefined);
      await cluster.stop({ immediate: true }); // throwaway data: no shutdown checkpoints
    },
  };
}
