// Whole messages out of a PostgreSQL server's byte stream, for the exchanges that read every
// message themselves (collecting a result, describing a statement, a COPY FROM STDIN): a message
// cut by a chunk boundary waits for the chunk that completes it.

/**
 * One whole message: buf[pos, end) holds it (type byte, length, body from pos + 5). Returning
 * true ends the exchange: the bytes after this message are not read.
 */
export type WholeMessageHandler = (type: number, buf: Buffer, pos: number, end: number) => boolean;

/** A connection's data handler that hands `onMessage` every whole message, in order. */
export function wholeMessages(onMessage: WholeMessageHandler): (chunk: Buffer) => void {
  let pending: Buffer | null = null;
  return (chunk) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    let pos = 0;
    while (pos + 5 <= buf.length) {
      const end = pos + 1 + buf.readUInt32BE(pos + 1);
      if (end > buf.length) break;
      if (onMessage(buf[pos]!, buf, pos, end)) return;
      pos = end;
    }
    // Handlers may keep views into `buf`: the remainder is copied so those stay valid.
    if (pos < buf.length) pending = Buffer.from(buf.subarray(pos));
  };
}
