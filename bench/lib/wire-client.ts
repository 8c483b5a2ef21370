// A minimal PostgreSQL wire client for latency figures that should not include a driver's own
// work (result decoding, promise chains): it sends pre-encoded messages and waits for
// ReadyForQuery. Trust authentication only (the bench user); anything else is an error.
import net from 'node:net';
import { serialize } from 'pg-protocol';

export interface WireEndpoint {
  host: string;
  port: number;
  user: string;
  database: string;
}

export class WireClient {
  private pending: Buffer = Buffer.alloc(0);
  private waiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private error: string | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static async connect(e: WireEndpoint): Promise<WireClient> {
    const socket = net.connect(e.port, e.host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new WireClient(socket);
    socket.write(serialize.startup({ user: e.user, database: e.database }));
    await client.untilReady();
    return client;
  }

  /** Unnamed Parse + Bind + Describe + Execute + Sync of `sql` with text parameters, as `pg` sends it. */
  static extendedQuery(sql: string, params: string[]): Buffer {
    return Buffer.concat([
      serialize.parse({ text: sql, types: [] }),
      serialize.bind({ values: params }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]);
  }

  /** Sends the bytes and resolves at ReadyForQuery; rejects if an ErrorResponse came before it. */
  async roundTrip(bytes: Buffer): Promise<void> {
    this.socket.write(bytes);
    await this.untilReady();
  }

  close(): void {
    this.socket.end(serialize.end());
  }

  private untilReady(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.scan();
    });
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.scan();
  }

  /** Walks whole messages: remembers an error, resolves the waiter at ReadyForQuery. */
  private scan(): void {
    let pos = 0;
    const buf = this.pending;
    while (pos + 5 <= buf.length) {
      const type = buf[pos]!;
      const len = buf.readInt32BE(pos + 1);
      if (pos + 1 + len > buf.length) break;
      if (type === 0x52 && buf.readInt32BE(pos + 5) !== 0 && this.waiter) {
        this.fail(new Error('the wire client supports trust authentication only'));
        return;
      }
      if (type === 0x45) this.error = buf.subarray(pos + 5, pos + 1 + len).toString('utf8');
      pos += 1 + len;
      if (type === 0x5a) {
        this.pending = buf.subarray(pos);
        const w = this.waiter;
        const error = this.error;
        this.waiter = null;
        this.error = null;
        if (w) {
          if (error) w.reject(new Error(error.replace(/\0/g, ' ')));
          else w.resolve();
        }
        return;
      }
    }
    this.pending = buf.subarray(pos);
  }

  private fail(e: Error): void {
    const w = this.waiter;
    this.waiter = null;
    w?.reject(e);
  }
}
