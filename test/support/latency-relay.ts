// A tiny TCP relay for fault tests: forwards every connection to a real server, delaying each
// chunk by `delayMs` in both directions (order kept: equal delays fire in order). Injected latency
// without touching the server or the machine's network; dropConnections() cuts every connection
// (no server message, as a dead link or a firewall would) and keeps accepting new ones.
import net from 'node:net';
import type { ShardgateConfig } from '../../src/config/schema.js';

export interface LatencyRelay {
  port: number;
  /** Delay added to each chunk, each way; may change at any time. */
  delayMs: number;
  /** Resets every open connection, both sides; new ones are still relayed. */
  dropConnections(): number;
  close(): Promise<void>;
}

export async function startLatencyRelay(
  target: { host: string; port: number },
  delayMs: number,
): Promise<LatencyRelay> {
  const sockets = new Set<net.Socket>();
  const relay: LatencyRelay = {
    port: 0,
    delayMs,
    dropConnections: () => {
      const open = sockets.size;
      for (const s of sockets) s.resetAndDestroy();
      return open;
    },
    close: async () => undefined,
  };
  const pipe = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk: Buffer) => {
      const send = () => {
        if (!to.destroyed) to.write(chunk);
      };
      if (relay.delayMs > 0) setTimeout(send, relay.delayMs);
      else send();
    });
    from.on('close', () => setTimeout(() => to.destroy(), relay.delayMs));
    from.on('error', () => to.destroy());
  };
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: target.host, port: target.port });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = (server.address() as net.AddressInfo).port;
  relay.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return relay;
}

/** A config's `shards` (or `mysqlShards`) with the replica named `replica` reached through `relay`. */
export function replicaThroughRelay(
  shards: ShardgateConfig['shards'],
  replica: string,
  relay: LatencyRelay,
): ShardgateConfig['shards'] {
  return shards.map((s) => ({
    ...s,
    replicas: s.replicas.map((r) => (r.name === replica ? { ...r, port: relay.port } : r)),
  }));
}
