// Follows a backend connection's responses packet by packet, knowing for each one what it is
// (OK, ERR, column count, column definition, EOF, row, end of rows, PREPARE_OK ...) without
// decoding rows. Requests are pipelined: each sent command pushes what its response looks like,
// and the scanner hands every packet to that request's handler, in order. Pure: no sockets.
import { CAP, MARKER, MAX_PACKET_PAYLOAD, STATUS } from './constants.js';
import { type LogicalPacket, PacketFramer } from './packet-framer.js';
import { malformed, PacketReader } from './packet-io.js';
import { decodeOk, endStatus } from './responses.js';

/** What a command's response looks like. */
export type ResponseShape =
  /** OK, ERR, or result set(s) in text or binary rows; repeated while MORE_RESULTS_EXISTS. */
  | 'result'
  /** COM_STMT_FETCH: rows, then an EOF/OK; or ERR. */
  | 'fetch'
  /** COM_STMT_PREPARE: PREPARE_OK, parameter definitions, column definitions; or ERR. */
  | 'prepare'
  /** COM_FIELD_LIST: column definitions up to an EOF; or ERR. */
  | 'field-list'
  /** Exactly one packet (COM_STATISTICS, the handshake). */
  | 'single';

export type PacketRole =
  | 'ok'
  | 'err'
  | 'column-count'
  | 'column'
  | 'columns-end'
  | 'row'
  | 'rows-end'
  | 'prepare-ok'
  | 'param'
  | 'params-end'
  | 'single';

export interface ResponseHandler {
  /** One packet of this response, with its role. `final` marks the last packet of the response. */
  onPacket(packet: LogicalPacket, role: PacketRole, final: boolean): void;
  /** End of a chunk of input: a chance to flush batched output. */
  onChunkEnd?(): void;
}

type State =
  | { at: 'start' }
  | { at: 'columns'; left: number; thenRows: boolean }
  | { at: 'columns-eof'; thenRows: boolean }
  | { at: 'rows' }
  | { at: 'params'; left: number; columns: number }
  | { at: 'params-eof'; columns: number };

interface Pending {
  shape: ResponseShape;
  handler: ResponseHandler;
}

export class ResponseScanner {
  private readonly framer: PacketFramer;
  private readonly queue: Pending[] = [];
  private state: State = { at: 'start' };

  /** `capabilities`: what this connection negotiated (DEPRECATE_EOF, SESSION_TRACK decide formats). */
  constructor(
    private readonly capabilities: number,
    maxPacketBytes = 1 << 30,
  ) {
    this.framer = new PacketFramer(maxPacketBytes);
  }

  get idle(): boolean {
    return this.queue.length === 0;
  }

  get pending(): number {
    return this.queue.length;
  }

  expect(shape: ResponseShape, handler: ResponseHandler): void {
    this.queue.push({ shape, handler });
  }

  /** Feeds bytes from the server. Throws ShardgateError on a packet no request can explain. */
  onData(chunk: Buffer): void {
    this.framer.push(chunk);
    let last: ResponseHandler | null = null;
    try {
      for (;;) {
        const packet = this.framer.next();
        if (!packet) break;
        const current = this.queue[0];
        if (!current) throw malformed('the server sent a packet nobody asked for');
        if (last && last !== current.handler) last.onChunkEnd?.();
        last = current.handler;
        const [role, final] = this.classify(current.shape, packet.payload);
        if (final) {
          this.queue.shift();
          this.state = { at: 'start' };
        }
        current.handler.onPacket(packet, role, final);
      }
    } finally {
      // Also on a malformed packet: a relay corks the client's socket inside a chunk, and the
      // error the client is then sent must not stay behind that cork.
      last?.onChunkEnd?.();
    }
  }

  private deprecateEof(): boolean {
    return (this.capabilities & CAP.DEPRECATE_EOF) !== 0;
  }

  /** The role of a packet and whether it ends the response; advances the state. */
  private classify(shape: ResponseShape, payload: Buffer): [PacketRole, boolean] {
    const first = payload.length > 0 ? payload[0]! : -1;
    const state = this.state;
    if (shape === 'single') return ['single', true];
    if (first === MARKER.ERR && state.at !== 'columns' && state.at !== 'params') return ['err', true];
    switch (state.at) {
      case 'start':
        return this.first(shape, payload, first);
      case 'columns':
        if (--state.left === 0) {
          if (!this.deprecateEof()) this.state = { at: 'columns-eof', thenRows: state.thenRows };
          else if (state.thenRows) this.state = { at: 'rows' };
          else return ['column', true];
        }
        return ['column', false];
      case 'columns-eof': {
        if (first !== MARKER.EOF) throw malformed('expected an EOF after the column definitions');
        if (!state.thenRows) return ['columns-end', true];
        const { status } = endStatus(payload, 0);
        if (status & STATUS.CURSOR_EXISTS) return ['columns-end', true];
        this.state = { at: 'rows' };
        return ['columns-end', false];
      }
      case 'rows':
        if (first === MARKER.EOF && payload.length < MAX_PACKET_PAYLOAD) {
          const { status } = endStatus(payload, this.capabilities);
          if (status & STATUS.MORE_RESULTS_EXISTS && shape === 'result') {
            this.state = { at: 'start' };
            return ['rows-end', false];
          }
          return ['rows-end', true];
        }
        return ['row', false];
      case 'params':
        if (--state.left === 0) {
          if (!this.deprecateEof()) this.state = { at: 'params-eof', columns: state.columns };
          else if (state.columns > 0) this.state = { at: 'columns', left: state.columns, thenRows: false };
          else return ['param', true];
        }
        return ['param', false];
      case 'params-eof':
        if (first !== MARKER.EOF) throw malformed('expected an EOF after the parameter definitions');
        if (state.columns === 0) return ['params-end', true];
        this.state = { at: 'columns', left: state.columns, thenRows: false };
        return ['params-end', false];
    }
  }

  private first(shape: ResponseShape, payload: Buffer, first: number): [PacketRole, boolean] {
    if (shape === 'fetch') {
      this.state = { at: 'rows' };
      return this.classify(shape, payload);
    }
    if (shape === 'field-list') {
      if (first === MARKER.EOF) return ['columns-end', true];
      return ['column', false];
    }
    if (shape === 'prepare') {
      if (first !== MARKER.OK) throw malformed('expected COM_STMT_PREPARE_OK');
      const r = new PacketReader(payload, 5);
      const columns = r.u16('the column count');
      const params = r.u16('the parameter count');
      if (params > 0) this.state = { at: 'params', left: params, columns };
      else if (columns > 0) this.state = { at: 'columns', left: columns, thenRows: false };
      else return ['prepare-ok', true];
      return ['prepare-ok', false];
    }
    if (first === MARKER.OK) {
      const ok = decodeOk(payload, this.capabilities);
      return ['ok', (ok.status & STATUS.MORE_RESULTS_EXISTS) === 0];
    }
    if (first === MARKER.LOCAL_INFILE) {
      throw malformed('the server asked for a LOCAL INFILE, which shardgate does not negotiate');
    }
    const r = new PacketReader(payload);
    const count = r.lenencInt('the column count');
    if (!count || r.remaining !== 0) throw malformed('expected OK, ERR or a column count');
    this.state = { at: 'columns', left: count, thenRows: true };
    return ['column-count', false];
  }
}
