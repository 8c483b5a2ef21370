// One client connection on the PostgreSQL front end: startup, authentication, then the query
// cycle. Messages are grouped into units (units.ts); each unit is planned, then forwarded as the
// client's original bytes to one server connection (the fast path) or run on several shards and
// merged (scatter). The server's response streams back untouched through a ResponseTracker that
// only walks message headers.
import type net from 'node:net';
import { type BackendIdentity, SERVICE_IDENTITY } from '../../backend/identity.js';
import type { PgServerConnection } from '../../backend/pg-server-connection.js';
import { ShardgateError, toShardgateError } from '../../errors.js';
import { ClientConnection } from '../client-connection.js';
import { MAX_PRE_AUTH_MESSAGE } from '../pre-auth.js';
import { encodeErrorResponse, encodeNotice } from './backend-messages.js';
import { Authenticator } from './client-auth.js';
import { FrontendFramer } from './frontend-framer.js';
import { QueryCycle } from './query-cycle.js';
import { openReplicationPassthrough, replicationMode } from './replication-passthrough.js';
import type { SessionServices } from './services.js';
import { newSessionState, type SessionState } from './session-state.js';
import { FE } from './units.js';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3_0 = 196608;

type Phase = 'startup' | 'auth' | 'ready' | 'closed';

let nextSessionId = 1;

export class PgClientSession extends ClientConnection {
  readonly id = nextSessionId++;
  phase: Phase = 'startup';
  state: SessionState | null = null;
  /** Who this session is on the servers (set at login; identity.ts). Never logged: it holds a secret. */
  backend: BackendIdentity = SERVICE_IDENTITY;
  private framer: FrontendFramer;
  private auth: Authenticator | null = null;
  private cycle: QueryCycle | null = null;
  /** The server connection of a replication session (see replication-passthrough.ts). */
  private replication: PgServerConnection | null = null;

  constructor(
    socket: net.Socket,
    private readonly services: SessionServices,
  ) {
    super(socket, services.log, services.config.limits.startupTimeoutMs, 'startup');
    // Before login no message may be larger than PostgreSQL's startup limit: a header alone
    // would otherwise reserve up to maxMessageBytes for an unauthenticated socket.
    this.framer = new FrontendFramer({
      maxMessageBytes: Math.min(MAX_PRE_AUTH_MESSAGE, services.config.limits.maxMessageBytes),
      startup: true,
    });
  }

  protected get ended(): boolean {
    return this.phase === 'closed';
  }

  protected logBindings(): Record<string, unknown> {
    return { session: this.id };
  }

  protected onData(chunk: Buffer): void {
    if (this.replication) {
      // A walsender session: bytes both ways, untouched (CopyBoth streams, feedback).
      this.replication.write(chunk);
      return;
    }
    try {
      this.framer.push(chunk);
      for (;;) {
        if (this.phase === 'closed') return;
        const frame = this.framer.next();
        if (!frame) break;
        const bytes = frame.buf.subarray(frame.start, frame.end);
        if (this.phase === 'startup') {
          if (frame.type === FE.Terminate) {
            this.close();
            return;
          }
          this.onStartupMessage(bytes);
          if ((this.phase as Phase) === 'closed' || this.pausedForTls) return;
        } else if (this.phase === 'auth') {
          this.auth!.onMessage(frame.type, bytes);
        } else {
          this.cycle!.onFrame(frame.type, bytes);
        }
      }
      this.cycle?.onChunkEnd();
    } catch (err) {
      this.fail(toShardgateError(err));
    }
  }

  private onStartupMessage(bytes: Buffer): void {
    if (bytes.length < 8)
      throw new ShardgateError('PROTOCOL_VIOLATION', { detail: 'startup packet too short' });
    const code = bytes.readUInt32BE(4);
    if (code === SSL_REQUEST) {
      const tls = this.services.tls;
      if (tls && !this.tlsDone) {
        // Bytes sent before the TLS handshake would be unencrypted injection (CVE-2021-23214).
        if (this.framer.buffered > 0) {
          throw new ShardgateError('PROTOCOL_VIOLATION', {
            detail: 'data received after SSLRequest before the TLS handshake',
          });
        }
        this.socket.write(Buffer.from('S'));
        this.upgradeToTls(tls);
      } else {
        this.socket.write(Buffer.from('N'));
      }
      return;
    }
    if (code === GSSENC_REQUEST) {
      // We do not offer GSSAPI encryption; 'N' lets the client continue without it.
      this.socket.write(Buffer.from('N'));
      return;
    }
    if (code === CANCEL_REQUEST) {
      if (bytes.length >= 16) {
        this.services.cancel.cancel(bytes.readInt32BE(8), bytes.readInt32BE(12));
      }
      this.close();
      return;
    }
    if (code !== PROTOCOL_3_0) {
      const major = code >>> 16;
      const minor = code & 0xffff;
      throw new ShardgateError('UNSUPPORTED_PROTOCOL', { version: `${major}.${minor}` });
    }
    if (this.services.tls?.required && !this.tlsDone) throw new ShardgateError('TLS_REQUIRED');
    const params = parseStartupParameters(bytes);
    const user = params.get('user');
    if (!user) throw new ShardgateError('PROTOCOL_VIOLATION', { detail: 'startup packet has no user' });
    const database = params.get('database') ?? user;
    this.framer.setStartupDone();
    this.state = newSessionState(user, database, params);
    this.phase = 'auth';
    this.auth = new Authenticator(this, this.services, () => this.onAuthenticated());
    this.auth.start();
  }

  private async onAuthenticated(): Promise<void> {
    this.stopStartupTimer();
    this.framer.setMaxMessageBytes(this.services.config.limits.maxMessageBytes);
    this.services.onAuthenticated?.(this);
    const user = this.services.config.users.find((u) => u.name === this.state!.user);
    this.state!.context.overridesAllowed = user?.routingOverrides ?? false;
    const replication = replicationMode(this.state!.startupParameters);
    if (replication) {
      this.replication = await openReplicationPassthrough(this, this.services, replication);
      this.phase = 'ready';
      return;
    }
    this.phase = 'ready';
    this.cycle = new QueryCycle(this, this.services);
    await this.cycle.start();
  }

  /** Sends an error to the client; FATAL errors close the connection. */
  sendError(err: ShardgateError): void {
    this.write(encodeErrorResponse(err));
  }

  sendNotice(message: string): void {
    this.write(encodeNotice(message));
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  fail(err: ShardgateError, forceFatal = false): void {
    if (this.phase === 'closed') return;
    if (!err.fatal && !forceFatal && this.phase === 'ready') {
      this.sendError(err);
      return;
    }
    this.log.info({ code: err.code, sqlstate: err.sqlstate, msg: err.message }, 'closing client session');
    this.socket.write(encodeErrorResponse(err, 'FATAL'));
    this.close();
  }

  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.cycle?.onClientGone();
    this.replication?.destroy();
    this.services.onSessionClosed(this);
    this.endSocket();
  }
}

function parseStartupParameters(bytes: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  let pos = 8;
  const end = bytes.length;
  while (pos < end) {
    const keyEnd = bytes.indexOf(0, pos);
    if (keyEnd < 0 || keyEnd >= end) break;
    if (keyEnd === pos) break;
    const key = bytes.toString('utf8', pos, keyEnd);
    const valueEnd = bytes.indexOf(0, keyEnd + 1);
    if (valueEnd < 0 || valueEnd >= end) {
      throw new ShardgateError('PROTOCOL_VIOLATION', { detail: 'startup parameter without value' });
    }
    params.set(key, bytes.toString('utf8', keyEnd + 1, valueEnd));
    pos = valueEnd + 1;
  }
  return params;
}

export { FE };
