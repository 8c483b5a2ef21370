// One client connection on the MySQL front end: the handshake (v10, optional TLS upgrade after an
// SSLRequest), authentication against the config users, then the command phase (CommandCycle).
// Every error a client can cause ends in an ERR packet with a MySQL errno and SQLSTATE; fatal
// ones close this session only.

import type net from 'node:net';
import {
  type BackendIdentity,
  databaseNames,
  mysqlBackendIdentity,
  SERVICE_IDENTITY,
} from '../../backend/identity.js';
import { charsetVariables } from '../../backend/mysql-server-connection.js';
import type { UserConfig } from '../../config/schema.js';
import { ShardgateError, toShardgateError } from '../../errors.js';
import { ClientConnection } from '../client-connection.js';
import { MAX_PRE_AUTH_MESSAGE } from '../pre-auth.js';
import { makeScramble } from './auth-crypto.js';
import { AuthExchange, SHA2 } from './client-auth.js';
import { CommandCycle } from './command-cycle.js';
import { defaultConnectionIds } from './connection-ids.js';
import { CAP, DEFAULT_COLLATION, MARIADB_CAP, SERVER_CAPABILITIES, STATUS } from './constants.js';
import { decodeChangeUser, decodeHandshakeResponse, encodeHandshakeV10, isSslRequest } from './handshake.js';
import { type LogicalPacket, PacketFramer } from './packet-framer.js';
import { framePayload, packetCount } from './packet-io.js';
import { encodeOk, encodeShardgateError } from './responses.js';
import type { KillTarget, MysqlServices } from './services.js';
import { type MysqlSessionState, newSessionState } from './session-state.js';

type Phase = 'handshake' | 'auth' | 'ready' | 'closed';

export class MysqlClientSession extends ClientConnection implements KillTarget {
  /** Unique in the instance, and names this worker (connection-ids.ts). */
  readonly connectionId: number;
  phase: Phase = 'handshake';
  private currentState: MysqlSessionState | null = null;
  /** Who this session is on the servers (set at login; identity.ts). Never logged: it holds a secret. */
  backend: BackendIdentity = SERVICE_IDENTITY;
  private readonly framer: PacketFramer;
  private readonly scramble = makeScramble();
  private readonly capabilities: number;
  /** MariaDB extended capabilities offered: extended metadata when the servers are MariaDB. */
  private readonly mariadbCapabilities: number;
  /** Sequence id for the next packet we send during the connection phase. */
  private seq = 0;
  private auth: AuthExchange | null = null;
  private cycle: CommandCycle | null = null;
  private changeUserDone: (() => void) | null = null;

  constructor(
    socket: net.Socket,
    private readonly services: MysqlServices,
  ) {
    super(socket, services.log, services.config.limits.startupTimeoutMs, 'login');
    this.connectionId = (services.connectionIds ?? defaultConnectionIds).allocate(services.sessions);
    // Before login no packet may exceed the pre-auth cap (raised once authenticated).
    this.framer = new PacketFramer(Math.min(MAX_PRE_AUTH_MESSAGE, services.config.limits.maxMessageBytes));
    // A MariaDB server announces its extended capabilities by clearing CLIENT_MYSQL (bit 0).
    this.mariadbCapabilities = /mariadb/i.test(services.server.version) ? MARIADB_CAP.EXTENDED_METADATA : 0;
    this.capabilities =
      (SERVER_CAPABILITIES & (this.mariadbCapabilities ? ~CAP.LONG_PASSWORD : ~0)) |
      (services.tls ? CAP.SSL : 0);
    this.sendPacket(
      encodeHandshakeV10({
        serverVersion: services.server.version,
        connectionId: this.connectionId,
        scramble: this.scramble,
        capabilities: this.capabilities,
        mariadbCapabilities: this.mariadbCapabilities,
        collation: DEFAULT_COLLATION,
        status: STATUS.AUTOCOMMIT,
        authPlugin: SHA2,
      }),
    );
  }

  get state(): MysqlSessionState {
    if (!this.currentState) throw new ShardgateError('INTERNAL', { detail: 'session used before login' });
    return this.currentState;
  }

  get user(): string | null {
    return this.currentState?.user ?? null;
  }

  protected get ended(): boolean {
    return this.phase === 'closed';
  }

  protected logBindings(): Record<string, unknown> {
    return { session: this.connectionId, protocol: 'mysql' };
  }

  /** A connection-phase packet at the next sequence id. */
  private sendPacket(payload: Buffer): void {
    this.write(framePayload(payload, this.seq));
    this.seq = (this.seq + packetCount(payload.length)) & 0xff;
  }

  protected onData(chunk: Buffer): void {
    try {
      this.framer.push(chunk);
      for (;;) {
        if (this.phase === 'closed' || this.pausedForTls) return;
        // Login is being checked: commands a client pipelined behind it wait in the framer.
        if (this.phase === 'auth' && !this.auth) return;
        const packet = this.framer.next();
        if (!packet) return;
        if (this.phase === 'ready' && !this.changeUserDone) {
          this.cycle!.onPacket(packet);
          continue;
        }
        if (packet.seq !== this.seq) {
          throw new ShardgateError('MYSQL_PACKETS_OUT_OF_ORDER', { expected: this.seq, got: packet.seq });
        }
        this.seq = (packet.lastSeq + 1) & 0xff;
        if (this.phase === 'handshake') this.onHandshakeResponse(packet);
        else if (this.auth) this.auth.onPacket(packet.payload);
        else
          throw new ShardgateError('MYSQL_MALFORMED_PACKET', {
            detail: 'a packet while login is being checked',
          });
      }
    } catch (err) {
      this.fail(toShardgateError(err));
    }
  }

  private onHandshakeResponse(packet: LogicalPacket): void {
    const payload = packet.payload;
    if (isSslRequest(payload)) {
      if (!this.services.tls || this.tlsDone) {
        throw new ShardgateError('MYSQL_MALFORMED_PACKET', {
          detail: 'an SSL request to a server that did not offer TLS',
        });
      }
      // The client starts its TLS handshake right behind the SSL request (no reply comes
      // between them): whatever followed the request belongs to TLS, never to the protocol.
      this.upgradeToTls(this.services.tls, this.framer.takeBuffered());
      return;
    }
    if (this.services.tls?.required && !this.tlsDone) throw new ShardgateError('TLS_REQUIRED');
    const response = decodeHandshakeResponse(payload);
    const capabilities = (response.capabilities & this.capabilities) | (response.capabilities & CAP.SSL);
    this.phase = 'auth';
    this.auth = new AuthExchange({
      users: this.services.config.users,
      sha2: this.services.sha2,
      scramble: this.scramble,
      user: response.user,
      plugin: response.capabilities & CAP.PLUGIN_AUTH ? response.authPlugin : null,
      response: response.authResponse,
      send: (p) => this.sendPacket(p),
      secure: () => this.tlsDone,
      onConfigProblem: (user, problem) => this.log.warn({ user, problem }, 'mysql login refused by config'),
      onSuccess: (user) =>
        void this.onAuthenticated(
          user,
          response.database,
          response.collation,
          capabilities,
          ((response.mariadbCapabilities ?? 0) & this.mariadbCapabilities & MARIADB_CAP.EXTENDED_METADATA) !==
            0,
        ),
      onFailure: (err) => this.fail(err),
    });
    this.auth.start();
  }

  private async onAuthenticated(
    user: UserConfig,
    database: string | null,
    collation: number,
    capabilities: number,
    extendedMetadata: boolean,
  ): Promise<void> {
    this.auth = null;
    try {
      this.backend = mysqlBackendIdentity(user);
      const schema = await this.checkDatabase(user, database);
      const charsetVars = this.charsetVars(collation);
      this.currentState = newSessionState({
        connectionId: this.connectionId,
        user: user.name,
        capabilities,
        extendedMetadata,
        collation,
        schema,
        charsetVars,
      });
      this.stopStartupTimer();
      this.framer.setMaxPayloadBytes(this.services.config.limits.maxMessageBytes);
      this.currentState.context.overridesAllowed = user.routingOverrides;
      this.services.onAuthenticated?.(this);
      this.sendPacket(encodeOk({ status: STATUS.AUTOCOMMIT }, capabilities));
      this.phase = 'ready';
      this.cycle = new CommandCycle(this, this.services);
      this.services.sessions.set(this.connectionId, this);
      // Commands the client pipelined behind its login.
      this.onData(Buffer.alloc(0));
    } catch (err) {
      this.fail(toShardgateError(err), true);
    }
  }

  /** The session's database: allowed by config and present on the servers. */
  private async checkDatabase(user: UserConfig, requested: string | null): Promise<string> {
    const config = this.services.config;
    const database = requested ?? config.backend.mysqlDatabase;
    const served = databaseNames(config);
    if (served.length > 0 && !served.includes(database)) {
      throw new ShardgateError('UNKNOWN_DATABASE', { database, known: served.join(', ') });
    }
    if (user.databases.length > 0 && !user.databases.includes(database)) {
      throw new ShardgateError('UNKNOWN_DATABASE', { database, known: user.databases.join(', ') });
    }
    const known = this.services.server.databases;
    if (known.has(database)) return database;
    const pool = this.services.topology.defaultPrimary().pool;
    const conn = await pool.acquire(false);
    try {
      const r = await conn.query('SHOW DATABASES');
      const names = (r.results[0]?.rows ?? []).map((row) => row[0]?.toString() ?? '');
      if (!names.includes(database)) {
        const visible = names.filter(
          (n) => !['information_schema', 'mysql', 'performance_schema', 'sys'].includes(n),
        );
        throw new ShardgateError('UNKNOWN_DATABASE', { database, known: visible.join(', ') || '(none)' });
      }
      known.add(database);
      return database;
    } finally {
      pool.release(conn);
    }
  }

  charsetVars(collation: number): Array<[string, string]> {
    const [charset, name] = this.services.server.charsetFor(collation);
    return charsetVariables(charset, name);
  }

  /** COM_CHANGE_USER: authenticate again (always by auth switch, with a fresh scramble). */
  changeUser(packet: LogicalPacket): Promise<void> {
    const state = this.state;
    const change = decodeChangeUser(packet.payload, state.capabilities);
    this.seq = (packet.lastSeq + 1) & 0xff;
    const scramble = makeScramble();
    return new Promise<void>((resolve) => {
      this.changeUserDone = resolve;
      const finish = () => {
        this.changeUserDone = null;
        this.auth = null;
        resolve();
      };
      this.auth = new AuthExchange({
        users: this.services.config.users,
        sha2: this.services.sha2,
        scramble,
        user: change.user,
        plugin: change.authPlugin,
        response: change.authResponse,
        alwaysSwitch: true,
        send: (p) => this.sendPacket(p),
        secure: () => this.tlsDone,
        onConfigProblem: (user, problem) => this.log.warn({ user, problem }, 'mysql login refused by config'),
        onSuccess: (user) => {
          void this.checkDatabase(user, change.database).then(
            (schema) => {
              const collation = change.collation ?? state.collation;
              state.user = user.name;
              this.backend = mysqlBackendIdentity(user);
              state.context.overridesAllowed = user.routingOverrides;
              state.schema = schema;
              state.collation = collation;
              state.vars = new Map(this.charsetVars(collation));
              this.sendPacket(encodeOk({ status: STATUS.AUTOCOMMIT }, state.capabilities));
              finish();
            },
            (err) => {
              this.fail(toShardgateError(err), true);
              finish();
            },
          );
        },
        onFailure: (err) => {
          this.fail(err, true);
          finish();
        },
      });
      this.auth.start();
    });
  }

  backendThreads(): Map<string, number> {
    const out = new Map<string, number>();
    for (const b of this.cycle?.bindings.values() ?? []) out.set(b.serverName, b.conn.threadId);
    return out;
  }

  killQuery(): void {
    this.cycle?.killRunning();
  }

  killConnection(): void {
    this.fail(new ShardgateError('MYSQL_CONNECTION_KILLED', { id: this.connectionId }), true);
  }

  /** Sends an ERR; fatal errors (and any error before login ends) close the connection. */
  fail(err: ShardgateError, forceFatal = false): void {
    if (this.phase === 'closed') return;
    const fatal = err.fatal || forceFatal || this.phase !== 'ready';
    const seq = this.phase === 'ready' && !this.changeUserDone ? 1 : this.seq;
    this.socket.write(framePayload(encodeShardgateError(err), seq));
    if (!fatal) return;
    this.log.info({ code: err.code, errno: err.mysqlErrno, msg: err.message }, 'closing client session');
    this.close();
  }

  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.cycle?.onClientGone();
    this.services.sessions.delete(this.connectionId);
    this.services.onSessionClosed(this);
    this.endSocket();
  }
}
