// Starts a real local MariaDB topology (primaries with GTID replicas), loads the MySQL demo schema,
// and runs shardgate in-process with its MySQL front end on a free port. The PostgreSQL side
// points at a closed port: these tests use the MySQL side only. Every MySQL integration test
// file uses one fixture and stops it in afterAll.
import net from 'node:net';
import mysql from 'mysql2/promise';
import { mysqlOnlyConfig } from '../../bench/lib/mysql-only-config.js';
import { makeScramVerifier } from '../../src/auth/scram.js';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { type MariadbCluster, startMariadbCluster } from '../../src/local/mariadb-cluster.js';
import { loadMysqlDemoData } from '../../src/local/mysql-demo-schema.js';
import { silentLogger } from '../../src/log.js';
import { nativeToken } from '../../src/protocol/mysql/auth-crypto.js';
import { CAP } from '../../src/protocol/mysql/constants.js';
import { decodeHandshakeV10, encodeHandshakeResponse } from '../../src/protocol/mysql/handshake.js';
import { type LogicalPacket, PacketFramer } from '../../src/protocol/mysql/packet-framer.js';
import { framePayload } from '../../src/protocol/mysql/packet-io.js';
import { ResponseScanner, type ResponseShape } from '../../src/protocol/mysql/response-scanner.js';
import { decodeErr } from '../../src/protocol/mysql/responses.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { shardForValue } from '../../src/router/sharding/resolve.js';
import { mysqlAppLogin } from './app-login.js';
import { OpenedConnections, readEachServer, stopInOrder } from './opened-connections.js';

export const MYSQL_TEST_USERS = [
  { name: 'app', password: 'app', mysqlAuth: 'caching_sha2_password', backend: 'service' },
  { name: 'native', password: 'native-pw', mysqlAuth: 'mysql_native_password', backend: 'service' },
  {
    name: 'hashed',
    password: makeScramVerifier('hashed-pw'),
    mysqlAuth: 'caching_sha2_password',
    backend: 'service',
  },
  { name: 'other', password: 'other-pw', mysqlAuth: 'mysql_native_password', backend: 'service' },
];

export interface MysqlProxyFixture {
  cluster: MariadbCluster;
  proxy: ProxyHandle;
  config: ShardgateConfig;
  port: number;
  /** A mysql2 connection through shardgate (closed by stop()). */
  connect(options?: mysql.ConnectionOptions): Promise<mysql.Connection>;
  /** A root connection straight to a server, bypassing the proxy. */
  direct(serverName: string): Promise<mysql.Connection>;
  /** The MySQL shard that owns a user_id. */
  owner(userId: number | string): string;
  stop(): Promise<void>;
}

/**
 * Shardgate's config for the MySQL front end over a local MariaDB cluster: the test users, root as
 * the backend user, quick pool failures, observability off; the PostgreSQL side points at a port
 * where nothing listens. `overrides` win over all of it.
 */
export function mysqlLocalConfig(
  cluster: MariadbCluster,
  overrides: Record<string, unknown>,
): Promise<ShardgateConfig> {
  return mysqlOnlyConfig(cluster.shards, 'shardgate', {
    users: MYSQL_TEST_USERS,
    pool: { connectRetries: 1, connectBackoffMs: 50, checkoutTimeoutMs: 3_000 },
    observability: { enabled: false },
    ...overrides,
  });
}

/** The XA transactions left prepared on these servers (their gtrids, as XA RECOVER lists them). */
export function xaPreparedOn(
  fx: Pick<MysqlProxyFixture, 'direct'>,
  servers: readonly string[],
): Promise<string[]> {
  return readEachServer(fx.direct, servers, async (d) => {
    const [rows] = await d.query<mysql.RowDataPacket[]>('XA RECOVER');
    return rows.map((r) => (r.data as Buffer).subarray(0, Number(r.gtrid_length)).toString());
  });
}

export interface MysqlFixtureOptions {
  shards?: number;
  replicas?: number;
  overrides?: Record<string, unknown>;
  demoUsers?: number;
  /** Extra my.cnf [mysqld] settings of every server (e.g. ssl-cert). */
  serverSettings?: Record<string, string | number>;
  /** Start the admin server on a free port (proxy.admin.port). */
  admin?: boolean;
}

export async function startMysqlProxyFixture(options: MysqlFixtureOptions = {}): Promise<MysqlProxyFixture> {
  const cluster = await startMariadbCluster({
    shards: options.shards ?? 2,
    replicasPerShard: options.replicas ?? 1,
    ...(options.serverSettings ? { settings: options.serverSettings } : {}),
  });
  try {
    const config = await mysqlLocalConfig(cluster, {
      routing: { lagPollIntervalMs: 20 },
      ...(options.overrides ?? {}),
    });
    await loadMysqlDemoData(config, { users: options.demoUsers ?? 50 });
    const proxy = await startProxy(config, {
      log: silentLogger(),
      postgresPort: 0,
      mysqlPort: 0,
      adminPort: options.admin ? 0 : null,
    });
    if (!proxy.mysql) throw new Error('the MySQL front end did not start');
    const port = proxy.mysql.port;
    const opened = new OpenedConnections<mysql.Connection>((c) => c.end().catch(() => c.destroy()));
    const shardRanges = config.mysqlShards.map((s) => ({ name: s.name, range: parseKeyRange(s.keyRange) }));
    return {
      cluster,
      proxy,
      config,
      port,
      async connect(extra = {}) {
        return opened.keep(await mysql.createConnection({ ...mysqlAppLogin(port), ...extra }));
      },
      async direct(serverName: string) {
        return opened.keep(await cluster.connect(serverName));
      },
      owner(userId) {
        return shardForValue(config.tables.posts!, String(userId), shardRanges);
      },
      stop: stopInOrder(opened, proxy, cluster),
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/**
 * A bare MySQL protocol client on our own codecs, for what drivers never send: raw commands,
 * malformed packets, COM_FIELD_LIST, COM_RESET_CONNECTION. Logs in with mysql_native_password.
 */
export class RawMysqlClient {
  private readonly framer = new PacketFramer(1 << 26);
  private readonly waiting: Array<(p: LogicalPacket) => void> = [];
  private readonly buffered: LogicalPacket[] = [];
  closed = false;
  connectionId = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      for (let p = this.framer.next(); p; p = this.framer.next()) {
        const copy = { ...p, payload: Buffer.from(p.payload), raw: Buffer.from(p.raw) };
        const w = this.waiting.shift();
        if (w) w(copy);
        else this.buffered.push(copy);
      }
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => undefined);
  }

  static async connect(
    port: number,
    options: {
      user?: string;
      password?: string;
      database?: string | null;
      capabilities?: number;
      login?: boolean;
    } = {},
  ): Promise<RawMysqlClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawMysqlClient(socket);
    const greeting = await client.packet();
    const hs = decodeHandshakeV10(greeting.payload);
    client.connectionId = hs.connectionId;
    if (options.login === false) return client;
    const caps =
      options.capabilities ??
      CAP.PROTOCOL_41 |
        CAP.SECURE_CONNECTION |
        CAP.PLUGIN_AUTH |
        CAP.CONNECT_WITH_DB |
        CAP.MULTI_RESULTS |
        CAP.SESSION_TRACK;
    socket.write(
      framePayload(
        encodeHandshakeResponse({
          capabilities: caps,
          maxPacketSize: 1 << 24,
          collation: 45,
          user: options.user ?? 'native',
          authResponse: nativeToken(options.password ?? 'native-pw', hs.scramble),
          database: options.database === undefined ? 'shardgate' : options.database,
          authPlugin: 'mysql_native_password',
          attributes: new Map(),
        }),
        1,
      ),
    );
    const reply = await client.packet();
    if (reply.payload[0] !== 0)
      throw Object.assign(new Error('login failed'), { reply: decodeErr(reply.payload) });
    return client;
  }

  /** The next packet from the server (rejects after timeoutMs or when the socket closes). */
  packet(timeoutMs = 5_000): Promise<LogicalPacket> {
    const ready = this.buffered.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise<LogicalPacket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no packet from the server in time')), timeoutMs);
      const onClose = () => reject(new Error('the server closed the connection'));
      this.socket.once('close', onClose);
      this.waiting.push((p) => {
        clearTimeout(timer);
        this.socket.off('close', onClose);
        resolve(p);
      });
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends one command (sequence 0) and reads its whole response as the given shape. */
  async command(
    payload: Buffer,
    shape: ResponseShape = 'result',
    caps = CAP.PROTOCOL_41 | CAP.SESSION_TRACK,
  ): Promise<LogicalPacket[]> {
    this.write(framePayload(payload, 0));
    const scanner = new ResponseScanner(caps);
    const got: LogicalPacket[] = [];
    let done = false;
    scanner.expect(shape, {
      onPacket(p, _role, final) {
        got.push(p);
        if (final) done = true;
      },
    });
    while (!done) scanner.onData((await this.packet()).raw);
    return got;
  }

  /** Resolves once the server has closed the connection (or after timeoutMs). */
  async closedByServer(timeoutMs = 5_000): Promise<boolean> {
    if (this.closed) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
