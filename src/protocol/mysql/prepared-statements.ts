// The binary protocol under transaction pooling. A client's statement id is shardgate's own; the
// statement text and metadata live in the session, so executions can land on any backend
// connection. Each backend connection prepares a statement the first time it executes it
// (COM_STMT_PREPARE, awaited once per connection and text, kept in an LRU), and gets the
// client's COM_STMT_EXECUTE with the server's statement id written in and, when the client
// left them out, the parameter types it bound earlier. COM_STMT_SEND_LONG_DATA is buffered and
// sent right before the execute, on whichever connection runs it. A COM_STMT_PREPARE of text
// shardgate has seen is answered without a server.
import type { MysqlServerConnection, ServerStatement } from '../../backend/mysql-server-connection.js';
import { ShardgateError } from '../../errors.js';
import { writeShards } from '../../migration/write-shards.js';
import type { CommandCycle } from './command-cycle.js';
import { COM } from './constants.js';
import { runKeyMove } from './key-move-runner.js';
import type { LogicalPacket } from './packet-framer.js';
import { framePayload, PacketReader } from './packet-io.js';
import { inlineValues, runScatter } from './scatter-runner.js';
import { type MysqlBinding, MysqlServerError } from './server-binding.js';
import { type ClientStatement, localStatus } from './session-state.js';
import { inlineParams } from './sql-inline.js';
import {
  decodeExecute,
  decodeSendLongData,
  type Execute,
  encodePrepareOk,
  encodeSendLongData,
  encodeStatementCommand,
  encodeTextCommand,
  type ParamType,
  rewriteExecute,
} from './statements.js';

/** Cursor flags of COM_STMT_EXECUTE (PARAMETER_COUNT_AVAILABLE, 0x08, is not a cursor). */
const CURSOR_FLAGS = 0x07;
const LAST_PREPARED = 0xffffffff;

function sameTypes(a: ParamType[] | null, b: ParamType[] | null): boolean {
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++)
    if (a[i]!.type !== b[i]!.type || a[i]!.unsigned !== b[i]!.unsigned) return false;
  return true;
}

export class PreparedStatements {
  private nextId = 1;
  private lastPrepared: number | null = null;
  /** A long-data error is reported by the next execute (SEND_LONG_DATA has no reply). */
  private readonly longDataErrors = new Map<number, ShardgateError>();

  constructor(private readonly cycle: CommandCycle) {}

  private get state() {
    return this.cycle.state;
  }

  private statement(id: number, command: string): ClientStatement {
    const resolved = id === LAST_PREPARED && this.lastPrepared !== null ? this.lastPrepared : id;
    const stmt = this.state.prepared.get(resolved);
    if (!stmt) throw new ShardgateError('MYSQL_UNKNOWN_STATEMENT', { id, command });
    return stmt;
  }

  private register(
    sql: string,
    meta: Omit<ClientStatement, 'id' | 'sql' | 'types' | 'longData' | 'longDataBytes'>,
  ): ClientStatement {
    const stmt: ClientStatement = {
      id: this.nextId++,
      sql,
      ...meta,
      types: null,
      longData: new Map(),
      longDataBytes: 0,
    };
    this.state.prepared.set(stmt.id, stmt);
    this.lastPrepared = stmt.id;
    return stmt;
  }

  async prepare(packet: LogicalPacket): Promise<void> {
    const sql = packet.payload.toString('utf8', 1);
    const services = this.cycle.services;
    // Each statement holds its text and definitions in memory: bounded per session.
    const max = services.config.limits.maxPreparedStatementsPerSession;
    if (this.state.prepared.size >= max) throw new ShardgateError('PREPARED_STATEMENT_LIMIT', { max });
    const key = `${this.state.schema}\u0000${sql}`;
    const known = services.server.statement(key);
    if (known) {
      const stmt = this.register(sql, known);
      const status = localStatus(this.state);
      const w = this.cycle.reply(packet);
      w.packet(
        encodePrepareOk({
          statementId: stmt.id,
          columnCount: known.columns.length,
          paramCount: known.paramCount,
          warnings: 0,
        }),
      );
      w.definitions(known.params, status).definitions(known.columns, status);
      this.cycle.session.write(w.bytes());
      return;
    }
    const planned = services.router.planUtilityOnDefault(this.cycle.routing());
    if (planned.plan.type !== 'single')
      throw new ShardgateError('INTERNAL', { detail: 'no server to prepare on' });
    const clientId = this.nextId++;
    await this.cycle.runSingle(packet, packet.raw, 'prepare', [planned], planned.plan.target, {
      clientStatementId: clientId,
      onOutcome: (outcome, binding) => {
        const p = outcome.prepare;
        if (!p) return;
        const meta = { paramCount: p.ok.paramCount, params: p.params, columns: p.columns };
        this.state.prepared.set(clientId, {
          id: clientId,
          sql,
          ...meta,
          types: null,
          longData: new Map(),
          longDataBytes: 0,
        });
        this.lastPrepared = clientId;
        this.remember(binding.conn, sql, {
          id: p.ok.statementId,
          paramCount: p.ok.paramCount,
          columnCount: p.ok.columnCount,
          boundTypes: null,
        });
        services.server.rememberStatement(key, meta);
      },
    });
  }

  async execute(packet: LogicalPacket): Promise<void> {
    const payload = packet.payload;
    const id = new PacketReader(payload, 1).u32('the statement id');
    const stmt = this.statement(id, 'mysqld_stmt_execute');
    const pending = this.longDataErrors.get(stmt.id);
    if (pending) {
      this.longDataErrors.delete(stmt.id);
      this.clearLongData(stmt);
      throw pending;
    }
    const exec = decodeExecute(payload, stmt.paramCount, stmt.types, new Set(stmt.longData.keys()));
    if (exec.flags & CURSOR_FLAGS) {
      throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
        detail: 'server-side cursors (COM_STMT_EXECUTE with a cursor type); execute without one',
      });
    }
    if (exec.types) stmt.types = exec.types;
    // A parameter sent as long data routes by its value too.
    for (const [param, chunks] of stmt.longData) exec.values[param] = Buffer.concat(chunks).toString('utf8');
    const services = this.cycle.services;
    stmt.analyzed ??= services.router.analyzer.analyze(stmt.sql);
    const planned = services.router.planWithValues(
      stmt.sql,
      this.cycle.routing(),
      exec.values,
      stmt.analyzed,
    );
    const first = planned[0];
    if (!first || planned.length !== 1) {
      throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
        detail: 'a prepared statement with several statements',
      });
    }
    this.cycle.checkLostTransaction(planned);
    const plan = first.plan;
    if (plan.type === 'error') throw new ShardgateError(plan.code, plan.params);
    if (plan.type === 'broadcast-join')
      throw new ShardgateError('JOIN_NOT_BROADCASTABLE', {
        table: plan.table,
        detail: 'a prepared statement (send it as a plain query, COM_QUERY)',
      });
    // COPY FROM is PostgreSQL's; the MySQL analyzer never plans it.
    if (plan.type === 'copy-in' || plan.type === 'copy-query-out')
      throw new ShardgateError('INTERNAL', { detail: 'a COPY plan on MySQL' });
    if (plan.type === 'local') {
      throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
        detail:
          'SET/SHOW shardgate.* and SHARDGATE EXPLAIN as prepared statements (send them as plain queries)',
      });
    }
    try {
      if (plan.type === 'key-move') {
        if (await this.cycle.admitWrites(writeShards(plan))) return this.execute(packet);
        await runKeyMove(this.cycle, packet, first, inlineParams(first.sql, inlineValues({ stmt, exec })));
        return;
      }
      if (plan.type === 'scatter' || plan.type === 'split-insert') {
        // Held by a cutover: plan again against the topology that is current after it.
        if (await this.cycle.admitWrites(writeShards(plan))) return this.execute(packet);
        await this.cycle.recoveringFromLoss(planned, () =>
          runScatter(this.cycle, packet, first, { stmt, exec }),
        );
        return;
      }
      const replan = () => {
        const again = services.router.planWithValues(
          stmt.sql,
          this.cycle.routing(),
          exec.values,
          stmt.analyzed,
        );
        const p = again[0]?.plan;
        if (p?.type !== 'single')
          throw new ShardgateError('INTERNAL', { detail: 'a retry planned no server' });
        return { statements: again, target: p.target };
      };
      await this.cycle.runSingleRetrying(
        packet,
        (binding) => this.executeBytes(binding, stmt, exec, payload, packet.raw),
        'result',
        planned,
        plan.target,
        replan,
      );
    } finally {
      this.clearLongData(stmt);
    }
  }

  /** The execute as this connection must receive it (prepared here first if needed). */
  private executeBytes(
    binding: MysqlBinding,
    stmt: ClientStatement,
    exec: Execute,
    payload: Buffer,
    raw: Buffer,
  ): Buffer | Promise<Buffer> {
    const conn = binding.conn;
    const cached = this.cached(conn, stmt.sql);
    if (cached) return this.executeOn(conn, cached, stmt, exec, payload, raw);
    return this.ensurePrepared(conn, stmt).then((server) =>
      this.executeOn(conn, server, stmt, exec, payload, raw),
    );
  }

  private executeOn(
    conn: MysqlServerConnection,
    server: ServerStatement,
    stmt: ClientStatement,
    exec: Execute,
    payload: Buffer,
    raw: Buffer,
  ): Buffer {
    for (const [param, chunks] of stmt.longData) {
      for (const chunk of chunks) conn.send(encodeSendLongData(server.id, param, chunk), null, null);
    }
    const needTypes = exec.types === null && !sameTypes(server.boundTypes, stmt.types);
    server.boundTypes = exec.types ?? stmt.types;
    if (!needTypes && raw.length === payload.length + 4) {
      // The common case: only the statement id changes, in the client's own packet.
      raw.writeUInt32LE(server.id >>> 0, 5);
      return raw;
    }
    const bytes = rewriteExecute(payload, exec, server.id, stmt.paramCount, needTypes ? stmt.types : null);
    return framePayload(bytes, 0);
  }

  /** This connection's statement for the text, if it has one. */
  private cached(conn: MysqlServerConnection, sql: string): ServerStatement | undefined {
    const have = conn.prepared.get(sql);
    if (have) {
      // LRU order matters only once the cache can overflow.
      const max = this.cycle.services.config.pool.maxPreparedStatements;
      if (max > 0 && conn.prepared.size * 2 >= max) {
        conn.prepared.delete(sql);
        conn.prepared.set(sql, have);
      }
    }
    return have;
  }

  /** Prepares the text on this connection (once; the reply is awaited). */
  private async ensurePrepared(conn: MysqlServerConnection, stmt: ClientStatement): Promise<ServerStatement> {
    const r = await conn.collect(encodeTextCommand(COM.STMT_PREPARE, stmt.sql), 'prepare', false);
    if (r.error) throw new MysqlServerError(r.error);
    const ok = r.prepare!.ok;
    const server: ServerStatement = {
      id: ok.statementId,
      paramCount: ok.paramCount,
      columnCount: ok.columnCount,
      boundTypes: null,
    };
    this.remember(conn, stmt.sql, server);
    return server;
  }

  private remember(conn: MysqlServerConnection, sql: string, server: ServerStatement): void {
    conn.prepared.set(sql, server);
    const max = this.cycle.services.config.pool.maxPreparedStatements;
    while (max > 0 && conn.prepared.size > max) {
      const [oldestSql, oldest] = conn.prepared.entries().next().value as [string, ServerStatement];
      conn.prepared.delete(oldestSql);
      conn.send(encodeStatementCommand(COM.STMT_CLOSE, oldest.id), null, null);
    }
  }

  /** COM_STMT_CLOSE: the client's name goes; server copies stay cached for reuse. No reply. */
  close(packet: LogicalPacket): void {
    const id = new PacketReader(packet.payload, 1).u32('the statement id');
    this.state.prepared.delete(id);
    this.longDataErrors.delete(id);
  }

  /** COM_STMT_RESET: drops buffered long data. */
  reset(packet: LogicalPacket): void {
    const id = new PacketReader(packet.payload, 1).u32('the statement id');
    const stmt = this.statement(id, 'mysqld_stmt_reset');
    this.clearLongData(stmt);
    this.longDataErrors.delete(stmt.id);
    this.cycle.session.write(this.cycle.reply(packet).ok(localStatus(this.state)).bytes());
  }

  /** COM_STMT_SEND_LONG_DATA: buffered until the next execute. No reply, even on error. */
  longData(packet: LogicalPacket): void {
    const d = decodeSendLongData(packet.payload);
    const stmt = this.state.prepared.get(d.statementId);
    if (!stmt) return;
    if (d.paramId >= stmt.paramCount) {
      this.longDataErrors.set(
        stmt.id,
        new ShardgateError('MYSQL_MALFORMED_PACKET', {
          detail: `long data for parameter ${d.paramId} of ${stmt.paramCount}`,
        }),
      );
      return;
    }
    const max = this.cycle.services.config.limits.maxMessageBytes;
    stmt.longDataBytes += d.data.length;
    if (stmt.longDataBytes > max) {
      this.longDataErrors.set(
        stmt.id,
        new ShardgateError('MESSAGE_TOO_LARGE', { size: stmt.longDataBytes, max }),
      );
      return;
    }
    let chunks = stmt.longData.get(d.paramId);
    if (!chunks) stmt.longData.set(d.paramId, (chunks = []));
    chunks.push(Buffer.from(d.data));
  }

  private clearLongData(stmt: ClientStatement): void {
    stmt.longData.clear();
    stmt.longDataBytes = 0;
  }
}
