// What both front ends do with a client's socket apart from their protocol: wait until the
// client has read what was sent, and switch the connection to TLS.
import type net from 'node:net';
import { Duplex } from 'node:stream';
import type tlsModule from 'node:tls';

/** Calls `resume` once the client has read what was sent (or is gone). */
export function whenDrained(socket: net.Socket, resume: () => void): void {
  const done = () => {
    socket.off('drain', done);
    socket.off('close', done);
    resume();
  };
  socket.on('drain', done);
  socket.on('close', done);
}

/**
 * The server side of TLS over `plain`, whose session listeners are removed (the session attaches
 * to the returned socket). `head`: TLS bytes that arrived with the request to start TLS.
 */
export function secureClientSocket(
  plain: net.Socket,
  tls: { module: typeof tlsModule; context: tlsModule.SecureContext },
  head: Buffer = Buffer.alloc(0),
): tlsModule.TLSSocket {
  plain.removeAllListeners('data');
  plain.removeAllListeners('close');
  plain.removeAllListeners('error');
  return new tls.module.TLSSocket(head.length > 0 ? replaying(plain, head) : plain, {
    isServer: true,
    secureContext: tls.context,
  });
}

/**
 * The socket as a stream that first yields `head` (TLS bytes that arrived with the SSL request),
 * then the socket's own data: the TLS layer reads a socket's handle directly, past any unshift.
 */
function replaying(socket: net.Socket, head: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  stream.push(head);
  socket.on('data', (d: Buffer) => {
    if (!stream.push(d)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (err) => stream.destroy(err));
  socket.on('close', () => stream.destroy());
  return stream;
}
