// The protocol's own CancelRequest, sent on a fresh connection as drivers do.
import net from 'node:net';

/** Sends a CancelRequest for `processId`/`secretKey` to `port`; resolves when the peer closes it. */
export function sendCancelRequest(port: number, processId: number, secretKey: number): Promise<void> {
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(processId, 8);
  packet.writeInt32BE(secretKey, 12);
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(packet));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

/** The (processId, secretKey) a node-postgres client was given in BackendKeyData. */
export function cancelKeyOf(client: object): { processID: number; secretKey: number } {
  const { processID, secretKey } = client as { processID: number; secretKey: number };
  return { processID, secretKey };
}
