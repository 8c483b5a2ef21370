// The relay's translations, fed with the responses of a CLIENT_DEPRECATE_EOF + SESSION_TRACK
// backend and checked by reading the output with the client's own capabilities: EOF packets for
// EOF clients, session tracking kept or stripped, consecutive sequence ids, prepared statement
// ids replaced, and what the response changed reported (last_gtid, variables, state).
import { describe, expect, it } from 'vitest';
import { type SessionMirror, trackResponse } from '../../src/backend/mysql-server-connection.js';
import { encodeColumnDefinition, textColumn } from '../../src/protocol/mysql/columns.js';
import { CAP, MARKER, STATUS } from '../../src/protocol/mysql/constants.js';
import { framePayload, PacketWriter } from '../../src/protocol/mysql/packet-io.js';
import { RelayHandler, type RelayOutcome } from '../../src/protocol/mysql/relay-handler.js';
import {
  type PacketRole,
  ResponseScanner,
  type ResponseShape,
} from '../../src/protocol/mysql/response-scanner.js';
import { decodeOk, encodeOk, encodeResultEnd } from '../../src/protocol/mysql/responses.js';
import { decodeTextRow, encodeTextRow } from '../../src/protocol/mysql/rows.js';
import { decodePrepareOk, encodePrepareOk } from '../../src/protocol/mysql/statements.js';

const BACKEND = CAP.PROTOCOL_41 | CAP.SESSION_TRACK | CAP.DEPRECATE_EOF;
const session = (vars: Array<[string, string]>, stateChanged = false) => ({
  variables: vars,
  schema: null,
  stateChanged,
  gtids: null,
  transactionState: null,
});

function frame(payloads: Buffer[]): Buffer {
  return Buffer.concat(payloads.map((p, i) => framePayload(p, i + 1)));
}

/** Relays one backend response; returns the client's bytes and the outcome. */
function relay(
  shape: ResponseShape,
  backendBytes: Buffer,
  clientCaps: number,
  firstSeq = 1,
  clientStatementId?: number,
  chunk = 7,
) {
  const mirror: SessionMirror = { status: 2, lastOk: null, schema: null, vars: new Map(), dirty: false };
  const client = corkedSocket();
  let outcome: RelayOutcome | null = null;
  const handler = new RelayHandler({
    out: client,
    conn: mirror,
    clientCapabilities: clientCaps,
    firstSeq,
    ...(clientStatementId !== undefined ? { clientStatementId } : {}),
    onDone: (o) => {
      outcome = o;
    },
  });
  const scanner = new ResponseScanner(BACKEND);
  scanner.expect(shape, {
    onPacket(p, role, final) {
      trackResponse(mirror, p.payload, role, BACKEND);
      handler.onPacket(p, role, final);
    },
    onChunkEnd: () => handler.onChunkEnd(),
  });
  for (let i = 0; i < backendBytes.length; i += chunk)
    scanner.onData(Buffer.from(backendBytes.subarray(i, i + chunk)));
  expect(client.corked).toBe(false);
  return {
    bytes: Buffer.concat(client.syscalls),
    syscalls: client.syscalls,
    outcome: outcome as RelayOutcome | null,
  };
}

/** A client socket as the relay sees it: writes made while corked leave together, as one syscall. */
function corkedSocket() {
  const syscalls: Buffer[] = [];
  let held: Buffer[] | null = null;
  return {
    syscalls,
    get corked() {
      return held !== null;
    },
    write(b: Buffer) {
      // A copy: the relay forwards views of the server's chunks.
      if (held) held.push(Buffer.from(b));
      else syscalls.push(Buffer.from(b));
    },
    cork() {
      held ??= [];
    },
    uncork() {
      if (held && held.length > 0) syscalls.push(Buffer.concat(held));
      held = null;
    },
  };
}

/** Reads client bytes with the client's capabilities: roles, sequence ids and payloads. */
function read(shape: ResponseShape, bytes: Buffer, clientCaps: number) {
  const scanner = new ResponseScanner(clientCaps);
  const seen: Array<{ role: PacketRole; seq: number; payload: Buffer }> = [];
  let done = false;
  scanner.expect(shape, {
    onPacket(p, role, final) {
      seen.push({ role, seq: p.seq, payload: Buffer.from(p.payload) });
      if (final) done = true;
    },
  });
  scanner.onData(bytes);
  expect(done).toBe(true);
  return seen;
}

const roles = (seen: Array<{ role: PacketRole }>) => seen.map((s) => s.role);

const resultSet = () =>
  frame([
    new PacketWriter().lenencInt(2).payload(),
    encodeColumnDefinition(textColumn('a')),
    encodeColumnDefinition(textColumn('b')),
    encodeTextRow([Buffer.from('1'), null]),
    encodeTextRow([Buffer.from('2'), Buffer.from('x')]),
    encodeOk(
      { header: MARKER.EOF, status: STATUS.AUTOCOMMIT, session: session([['last_gtid', '1-100-7']]) },
      BACKEND,
    ),
  ]);

describe('RelayHandler', () => {
  it('gives EOF clients EOF packets and consecutive sequence ids', () => {
    const client = CAP.PROTOCOL_41 | CAP.SESSION_TRACK;
    const { bytes, outcome } = relay('result', resultSet(), client, 1);
    const seen = read('result', bytes, client);
    expect(roles(seen)).toEqual([
      'column-count',
      'column',
      'column',
      'columns-end',
      'row',
      'row',
      'rows-end',
    ]);
    expect(seen.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(seen.at(-1)!.payload.length).toBe(5);
    expect(decodeTextRow(seen[5]!.payload, 2).map((c) => c?.toString() ?? null)).toEqual(['2', 'x']);
    expect(outcome?.gtid).toBe('1-100-7');
  });

  it('writes the output of each server chunk, EOFs it adds included, in one syscall', () => {
    const client = CAP.PROTOCOL_41 | CAP.SESSION_TRACK;
    const backend = resultSet();
    const whole = relay('result', backend, client, 1, undefined, backend.length);
    expect(whole.syscalls).toHaveLength(1);
    expect(roles(read('result', whole.bytes, client))).toHaveLength(7);
    // Split in 7-byte chunks: at most one write per chunk, and the same bytes in the end.
    const split = relay('result', backend, client, 1, undefined, 7);
    expect(split.syscalls.length).toBeLessThanOrEqual(Math.ceil(backend.length / 7));
    expect(split.bytes.equals(whole.bytes)).toBe(true);
  });

  it('passes CLIENT_DEPRECATE_EOF responses through byte for byte when nothing needs changing', () => {
    const backend = resultSet();
    const { bytes } = relay('result', backend, BACKEND, 1);
    expect(bytes.equals(backend)).toBe(true);
  });

  it('strips session tracking for clients without CLIENT_SESSION_TRACK and reports it', () => {
    const ok = frame([
      encodeOk(
        {
          status: 2,
          affectedRows: 3n,
          session: session(
            [
              ['sql_mode', ''],
              ['last_gtid', '1-100-9'],
            ],
            true,
          ),
        },
        BACKEND,
      ),
    ]);
    const { bytes, outcome } = relay('result', ok, CAP.PROTOCOL_41, 1);
    const [only] = read('result', bytes, CAP.PROTOCOL_41);
    const decoded = decodeOk(only!.payload, 0);
    expect(decoded.affectedRows).toBe(3n);
    expect(decoded.info).toBe('');
    expect(outcome).toMatchObject({ gtid: '1-100-9', vars: [['sql_mode', '']], opaqueStateChange: false });
  });

  it('renumbers to follow a client command spread over several packets', () => {
    const { bytes } = relay('result', frame([encodeOk({ status: 2 }, BACKEND)]), BACKEND, 3);
    expect(bytes[3]).toBe(3);
  });

  it('rewrites the statement id of a prepare and closes definitions with EOFs for EOF clients', () => {
    const backend = frame([
      encodePrepareOk({ statementId: 77, columnCount: 1, paramCount: 2, warnings: 0 }),
      encodeColumnDefinition(textColumn('?')),
      encodeColumnDefinition(textColumn('?')),
      encodeColumnDefinition(textColumn('c')),
    ]);
    const client = CAP.PROTOCOL_41;
    const { bytes, outcome } = relay('prepare', backend, client, 1, 5, 3);
    const seen = read('prepare', bytes, client);
    expect(roles(seen)).toEqual(['prepare-ok', 'param', 'param', 'params-end', 'column', 'columns-end']);
    expect(decodePrepareOk(seen[0]!.payload).statementId).toBe(5);
    expect(outcome?.prepare?.params.length).toBe(2);
    expect(outcome?.prepare?.columns.map((c) => c.name)).toEqual(['c']);
  });

  it('reports state that cannot be replayed and multiple results', () => {
    const backend = frame([
      encodeOk(
        { status: STATUS.AUTOCOMMIT | STATUS.MORE_RESULTS_EXISTS, session: session([], true) },
        BACKEND,
      ),
      new PacketWriter().lenencInt(1).payload(),
      encodeColumnDefinition(textColumn('a')),
      encodeResultEnd(STATUS.AUTOCOMMIT, 0, BACKEND),
    ]);
    const client = CAP.PROTOCOL_41 | CAP.SESSION_TRACK;
    const { bytes, outcome } = relay('result', backend, client);
    expect(roles(read('result', bytes, client))).toEqual([
      'ok',
      'column-count',
      'column',
      'columns-end',
      'rows-end',
    ]);
    expect(outcome?.opaqueStateChange).toBe(true);
  });
});
