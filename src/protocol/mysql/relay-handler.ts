// The fast path's response side: forwards a backend response to the client as the packets
// arrived (runs of whole packets in one write, rows never decoded), changing only what must
// change for this client:
//   - sequence ids renumbered to follow the client's command (written in place, one byte);
//   - for clients without CLIENT_DEPRECATE_EOF (backends always use it, so result-set ends carry
//     session tracking), an EOF after column and parameter definitions, and the OK that ends
//     rows turned into an EOF;
//   - for clients without CLIENT_SESSION_TRACK, session tracking stripped from OK packets;
//   - for COM_STMT_PREPARE, the statement id replaced with the client's.
// It reports what the response changed: status flags, last_gtid, variables, schema, errors.
import { type ColumnDefinition, decodeColumnDefinition, withExtendedMetadata } from './columns.js';
import { CAP } from './constants.js';
import type { LogicalPacket } from './packet-framer.js';
import { framePayload, packetCount } from './packet-io.js';
import type { PacketRole, ResponseHandler } from './response-scanner.js';
import { decodeErr, type ErrPacket, encodeOk, framedEof, type OkPacket } from './responses.js';
import { decodePrepareOk, type PrepareOk } from './statements.js';

/** The client's socket as the relay writes it: writes made while corked leave in one writev. */
export interface ClientOutput {
  write(bytes: Buffer): void;
  cork(): void;
  uncork(): void;
}

export interface RelayOutcome {
  error: ErrPacket | null;
  /** Status flags of the response's last packet. */
  status: number;
  /** The last last_gtid the response carried (a write committed on this server). */
  gtid: string | null;
  /** Session variables the response changed (lower-cased names), in order. */
  vars: Array<[string, string]>;
  schema: string | null;
  /** State changed with no variable or schema to show for it (user variables, temp tables...). */
  opaqueStateChange: boolean;
  /** COM_STMT_PREPARE: the server's header and definitions. */
  prepare: { ok: PrepareOk; params: ColumnDefinition[]; columns: ColumnDefinition[] } | null;
}

/** What the relay reads of the backend connection: its status and the OK it just decoded. */
export interface ConnectionStatus {
  readonly status: number;
  readonly lastOk: OkPacket | null;
  /** Its column definitions carry MariaDB's extended metadata block. */
  readonly extendedMetadata?: boolean;
}

/**
 * Errors with which a server ends the connection itself (MariaDB's "Connection was killed", a
 * shutdown in progress, MySQL's idle disconnect): the connection is lost, not just the command.
 */
export const CONNECTION_ENDING_ERRNOS = new Set([1927, 1053, 4031]);

export interface RelayOptions {
  out: ClientOutput;
  conn: ConnectionStatus;
  clientCapabilities: number;
  /** The client negotiated MariaDB's extended column metadata. */
  clientExtendedMetadata?: boolean;
  /** Sequence id of the first packet the client expects. */
  firstSeq: number;
  /** COM_STMT_PREPARE: the id the client will know the statement by. */
  clientStatementId?: number;
  onDone(outcome: RelayOutcome): void;
  /**
   * Transaction pooling: the server ended the connection with `message`; the ERR is not relayed
   * (the client's session outlives the connection) and onDone is not called.
   */
  onServerEnding?: (message: string) => void;
}

export class RelayHandler implements ResponseHandler {
  private seq: number;
  private readonly eofClient: boolean;
  private readonly trackClient: boolean;
  private readonly clientExtended: boolean;
  private readonly serverExtended: boolean;
  private inColumns = false;
  /** Prepare replies: which definitions an EOF must close for an EOF client. */
  private openDefs: 'params' | 'columns' | null = null;
  private readonly outcome: RelayOutcome = {
    error: null,
    status: 0,
    gtid: null,
    vars: [],
    schema: null,
    opaqueStateChange: false,
    prepare: null,
  };
  // A run of forwarded packets, contiguous in one received buffer, not yet queued.
  private runBuffer: ArrayBufferLike | null = null;
  private runStart = 0;
  private runEnd = 0;
  /**
   * The current chunk's first piece of output, held back: alone it is written as it is; with more
   * pieces the client's socket is corked, so the chunk's output still leaves in one syscall
   * (writev), without copying the pieces into one buffer first.
   */
  private held: Buffer | null = null;
  private corked = false;

  constructor(private readonly o: RelayOptions) {
    this.seq = o.firstSeq & 0xff;
    this.eofClient = (o.clientCapabilities & CAP.DEPRECATE_EOF) === 0;
    this.trackClient = (o.clientCapabilities & CAP.SESSION_TRACK) !== 0;
    this.clientExtended = o.clientExtendedMetadata ?? false;
    this.serverExtended = o.conn.extendedMetadata ?? false;
  }

  onPacket(packet: LogicalPacket, role: PacketRole, final: boolean): void {
    const p = packet.payload;
    switch (role) {
      case 'column-count':
        this.inColumns = true;
        this.forward(packet);
        break;
      case 'column':
        if (this.outcome.prepare) {
          if (this.openDefs === 'params') this.closeDefinitions();
          this.openDefs = 'columns';
          this.outcome.prepare.columns.push(decodeColumnDefinition(p, this.serverExtended));
        }
        this.forwardDefinition(packet);
        break;
      case 'param':
        this.openDefs = 'params';
        this.outcome.prepare?.params.push(decodeColumnDefinition(p, this.serverExtended));
        this.forwardDefinition(packet);
        break;
      case 'row':
        if (this.inColumns) this.endColumns();
        this.forward(packet);
        break;
      case 'rows-end':
        if (this.inColumns) this.endColumns();
        this.track();
        if (this.eofClient) this.emitEof(this.o.conn.lastOk?.warnings ?? 0, this.o.conn.status);
        else this.forwardOk(packet);
        break;
      case 'ok':
        this.track();
        this.forwardOk(packet);
        break;
      case 'err':
        this.outcome.error = decodeErr(p);
        if (this.o.onServerEnding && CONNECTION_ENDING_ERRNOS.has(this.outcome.error.errno)) {
          this.write();
          this.o.onServerEnding(this.outcome.error.message);
          return;
        }
        this.forward(packet);
        break;
      case 'prepare-ok': {
        const ok = decodePrepareOk(p);
        this.outcome.prepare = { ok, params: [], columns: [] };
        if (this.o.clientStatementId !== undefined && packet.raw.length === p.length + 4) {
          packet.raw.writeUInt32LE(this.o.clientStatementId >>> 0, 5);
        }
        this.forward(packet);
        break;
      }
      case 'columns-end':
      case 'params-end':
        // Only COM_FIELD_LIST ends this way on a CLIENT_DEPRECATE_EOF connection.
        if (this.eofClient) this.emitEof(0, this.o.conn.status);
        else this.forward(packet);
        break;
      default:
        this.forward(packet);
    }
    if (final) {
      if (this.openDefs) this.closeDefinitions();
      this.write();
      this.outcome.status = this.o.conn.status;
      this.o.onDone(this.outcome);
    }
  }

  onChunkEnd(): void {
    this.write();
  }

  /** Writes everything queued so far. */
  private write(): void {
    this.flush();
    const held = this.held;
    if (held !== null) {
      this.held = null;
      this.o.out.write(held);
    }
    if (this.corked) {
      this.corked = false;
      this.o.out.uncork();
    }
  }

  /** Queues one piece of the chunk's output (see `held`). */
  private queue(piece: Buffer): void {
    if (this.held === null && !this.corked) {
      this.held = piece;
      return;
    }
    if (!this.corked) {
      this.corked = true;
      this.o.out.cork();
      this.o.out.write(this.held!);
      this.held = null;
    }
    this.o.out.write(piece);
  }

  private track(): void {
    const ok = this.o.conn.lastOk;
    const s = ok?.session;
    if (!s) return;
    for (const v of s.variables) {
      if (v[0] === 'last_gtid') this.outcome.gtid = v[1];
      else this.outcome.vars.push(v);
    }
    if (s.schema !== null) this.outcome.schema = s.schema;
    if (s.stateChanged && s.variables.length === 0 && s.schema === null)
      this.outcome.opaqueStateChange = true;
  }

  /** A column definition, with MariaDB's extended metadata block added or removed for the client. */
  private forwardDefinition(packet: LogicalPacket): void {
    if (this.serverExtended === this.clientExtended) this.forward(packet);
    else this.emit(withExtendedMetadata(packet.payload, this.serverExtended, this.clientExtended));
  }

  /**
   * An OK as the client would get it from the server: session tracking removed for clients
   * without CLIENT_SESSION_TRACK, and for the others the state-change marker removed (shardgate
   * turns session_track_state_change on for itself; the server's default is off, so a direct
   * client sees no SESSION_STATE_CHANGED after `SET @a = 1` or CREATE TEMPORARY TABLE).
   */
  private forwardOk(packet: LogicalPacket): void {
    const ok = this.o.conn.lastOk!;
    const s = ok.session;
    if (this.trackClient && !s?.stateChanged) {
      this.forward(packet);
      return;
    }
    const kept =
      this.trackClient &&
      s &&
      (s.variables.length > 0 || s.schema !== null || s.gtids !== null || s.transactionState !== null)
        ? { ...s, stateChanged: false }
        : null;
    this.emit(encodeOk({ ...ok, session: kept }, this.o.clientCapabilities));
  }

  /** EOF clients get an EOF between column definitions and rows. */
  private endColumns(): void {
    this.inColumns = false;
    if (this.eofClient) this.emitEof(0, this.o.conn.status);
  }

  private closeDefinitions(): void {
    this.openDefs = null;
    if (this.eofClient) this.emitEof(0, this.o.conn.status);
  }

  /** Queues the packet's own bytes, renumbered in place. */
  private forward(packet: LogicalPacket): void {
    const raw = packet.raw;
    if (raw.length === packet.payload.length + 4) {
      raw[3] = this.seq;
      this.seq = (this.seq + 1) & 0xff;
    } else {
      // A payload of 16 MB or more: several physical packets, each with its own header.
      for (let at = 0; at < raw.length; ) {
        raw[at + 3] = this.seq;
        this.seq = (this.seq + 1) & 0xff;
        at += 4 + raw.readUIntLE(at, 3);
      }
    }
    if (this.runBuffer === raw.buffer && this.runEnd === raw.byteOffset) {
      this.runEnd += raw.length;
      return;
    }
    this.flush();
    this.runBuffer = raw.buffer;
    this.runStart = raw.byteOffset;
    this.runEnd = raw.byteOffset + raw.length;
  }

  /** Sends a packet shardgate made, at the next sequence id. */
  private emit(payload: Buffer): void {
    this.flush();
    const framed = framePayload(payload, this.seq);
    this.seq = (this.seq + packetCount(payload.length)) & 0xff;
    this.queue(framed);
  }

  /** An EOF packet at the next sequence id, framed where it is encoded (one small buffer). */
  private emitEof(warnings: number, status: number): void {
    this.flush();
    this.queue(framedEof(this.seq, warnings, status));
    this.seq = (this.seq + 1) & 0xff;
  }

  /** Queues the current run of forwarded packets. */
  private flush(): void {
    if (this.runBuffer === null) return;
    this.queue(Buffer.from(this.runBuffer, this.runStart, this.runEnd - this.runStart));
    this.runBuffer = null;
  }
}
