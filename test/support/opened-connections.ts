// The client connections a test fixture opened for a test: errors swallowed (tests stop servers
// under them on purpose), every one closed when the fixture stops, so no socket outlives the run.

interface Connection {
  on(event: 'error', listener: () => void): unknown;
}

export class OpenedConnections<C extends Connection> {
  private readonly all: C[] = [];

  /** `close` ends one connection and never rejects. */
  constructor(private readonly close: (c: C) => Promise<unknown>) {}

  /** Swallows the connection's errors; call before anything on it can fail. */
  quiet(c: C): C {
    c.on('error', () => undefined);
    return c;
  }

  /** Quiets a connection that is open and closes it at closeAll(). */
  keep(c: C): C {
    this.all.push(this.quiet(c));
    return c;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((c) => this.close(c)));
  }
}

/** A fixture's stop(): its client connections first, then the proxy, then the database servers. */
export function stopInOrder<C extends Connection>(
  opened: OpenedConnections<C>,
  proxy: { close(): Promise<unknown> },
  cluster: { stop(): Promise<unknown> },
): () => Promise<void> {
  return async () => {
    await opened.closeAll();
    await proxy.close();
    await cluster.stop();
  };
}

/**
 * `read` on a connection of its own to each server in turn (closed after it, whatever happens),
 * the results in server order: what a test asks of every server directly.
 */
export async function readEachServer<C extends { end(): Promise<unknown> }, T>(
  open: (server: string) => Promise<C>,
  servers: readonly string[],
  read: (c: C) => Promise<T[]>,
): Promise<T[]> {
  const out: T[] = [];
  for (const server of servers) {
    const c = await open(server);
    try {
      out.push(...(await read(c)));
    } finally {
      await c.end();
    }
  }
  return out;
}
