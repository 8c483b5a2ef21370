// The idle-connection generator of `bench idle`, run as its own process (node dist/bench/lib/
// idle-opener.js '<spec JSON>') so that its memory and file descriptors are not the bench's: it
// opens `count` client connections to the proxy's PostgreSQL port, `batch` logins at a time, logs
// each one in with raw protocol bytes (StartupMessage, trust auth), then holds them idle. It
// prints one JSON line when all are open (or when opening failed), closes everything when stdin
// says "close" or ends, prints one more line and exits; `lifetimeMs` bounds its life whatever its
// parent does. Imports node: modules only.
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { readTextFile } from './proc.js';

export interface IdleOpenerSpec {
  host: string;
  port: number;
  user: string;
  database: string;
  count: number;
  /** Logins in flight at once (the proxy limits unauthenticated sockets per address). */
  batch: number;
  /** Per-login bound. */
  loginTimeoutMs: number;
  /** The process exits after this long, whatever happens. */
  lifetimeMs: number;
}

export type IdleOpenerReport =
  | { event: 'opened'; opened: number; ms: number; fdLimit: number | null }
  | { event: 'failed'; opened: number; error: string; fdLimit: number | null }
  | { event: 'closed'; closed: number };

/** The soft limit on open files of this process, from /proc (null where /proc cannot tell). */
export function openFileLimit(limits?: string): number | null {
  const text = limits ?? readTextFile('/proc/self/limits');
  if (text === null) return null;
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m?.[1]) return null;
  return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

/** PostgreSQL StartupMessage, protocol 3.0. */
export function pgStartup(user: string, database: string): Buffer {
  const pairs = Buffer.from(`user\0${user}\0database\0${database}\0application_name\0idle-bench\0\0`);
  const out = Buffer.alloc(8 + pairs.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(196608, 4);
  pairs.copy(out, 8);
  return out;
}

/**
 * Reads backend messages until ReadyForQuery. Only trust logins are supported: any other
 * authentication request is an error naming it (the bench configures trust for its user).
 */
function pgLogin(socket: net.Socket, spec: IdleOpenerSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        const length = pending.readInt32BE(1);
        if (pending.length < 1 + length) return;
        const type = String.fromCharCode(pending[0]!);
        const body = pending.subarray(5, 1 + length);
        pending = pending.subarray(1 + length);
        if (type === 'R' && body.readInt32BE(0) !== 0) {
          return reject(
            new Error(`authentication request ${body.readInt32BE(0)}: the bench needs trust auth`),
          );
        }
        if (type === 'E')
          return reject(new Error(`ErrorResponse: ${body.toString('utf8').replaceAll('\0', ' ').trim()}`));
        if (type === 'Z') {
          socket.off('data', onData);
          return resolve();
        }
      }
    };
    socket.on('data', onData);
    socket.write(pgStartup(spec.user, spec.database));
  });
}

/** One logged-in idle connection (its later traffic is read and dropped), or an error. */
function openOne(spec: IdleOpenerSpec, held: Set<net.Socket>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: spec.host, port: spec.port });
    held.add(socket);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      held.delete(socket);
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new Error(`login took over ${spec.loginTimeoutMs} ms`)),
      spec.loginTimeoutMs,
    );
    socket.once('error', fail);
    socket.once('connect', () => {
      pgLogin(socket, spec).then(
        () => {
          clearTimeout(timer);
          socket.off('error', fail);
          // Idle from here: whatever the proxy sends later is dropped; a close just forgets the socket.
          socket.on('error', () => undefined);
          socket.on('data', () => undefined);
          socket.on('close', () => held.delete(socket));
          resolve();
        },
        (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
      );
    });
  });
}

export async function openIdle(spec: IdleOpenerSpec, held: Set<net.Socket>): Promise<IdleOpenerReport> {
  const fdLimit = openFileLimit();
  // Each connection is one descriptor; node itself keeps a few dozen.
  if (fdLimit !== null && spec.count + 64 > fdLimit) {
    return {
      event: 'failed',
      opened: 0,
      fdLimit,
      error: `${spec.count} connections need about ${spec.count + 64} file descriptors; this process may open ${fdLimit} (raise ulimit -n or lower --connections)`,
    };
  }
  const started = Date.now();
  let next = 0;
  let firstError: string | null = null;
  const worker = async () => {
    while (next < spec.count && firstError === null) {
      next++;
      try {
        await openOne(spec, held);
      } catch (err) {
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.batch, spec.count) }, worker));
  if (firstError !== null) return { event: 'failed', opened: held.size, error: firstError, fdLimit };
  return { event: 'opened', opened: held.size, ms: Date.now() - started, fdLimit };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as IdleOpenerSpec;
  const held = new Set<net.Socket>();
  const closeAll = () => {
    const closed = held.size;
    for (const s of held) s.destroy();
    held.clear();
    process.stdout.write(`${JSON.stringify({ event: 'closed', closed } satisfies IdleOpenerReport)}\n`);
    process.exit(0);
  };
  setTimeout(closeAll, spec.lifetimeMs);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (line: string) => {
    if (line.includes('close')) closeAll();
  });
  process.stdin.on('end', closeAll);
  const report = await openIdle(spec, held);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

// Run as a script, not when imported (the scenario imports the types and helpers for tests).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  void main();
}
