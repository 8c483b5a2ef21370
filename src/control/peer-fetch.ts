// One request to another instance's admin API (GET a snapshot, POST a cancel), never trusted: a
// short timeout over the whole exchange, a bound on the reply's size, and every failure (refused,
// slow, oversized, not 2xx, not JSON) returned as a reason instead of thrown. The Host sent is the
// advertised one: a peer advertised under a host name (wildcard listen) must list that name in
// its admin.allowedHosts, as for any other client (admin/access.ts).
import http from 'node:http';

export interface PeerRequest {
  method?: 'GET' | 'POST';
  /** JSON body of a POST. */
  body?: unknown;
  /** The deployment's admin token, for routes that need it. */
  token?: string | undefined;
  timeoutMs?: number;
  maxBytes?: number;
}

export type PeerReply = { ok: true; status: number; text: string } | { ok: false; error: string };

export const PEER_TIMEOUT_MS = 1_000;
export const PEER_MAX_BYTES = 4 * 1024 * 1024;

/** `base` is a member's admin address (http://host:port), `path` starts with '/'. */
export function peerRequest(base: string, path: string, o: PeerRequest = {}): Promise<PeerReply> {
  const maxBytes = o.maxBytes ?? PEER_MAX_BYTES;
  let url: URL;
  try {
    url = new URL(path, base);
  } catch {
    return Promise.resolve({ ok: false, error: `bad admin address "${base}"` });
  }
  if (url.protocol !== 'http:') return Promise.resolve({ ok: false, error: `not http: "${base}"` });
  const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  return new Promise((resolve) => {
    let settled = false;
    const done = (reply: PeerReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(reply);
    };
    const headers: Record<string, string | number> = {};
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const req = http.request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || 80,
        path: url.pathname + url.search,
        method: o.method ?? 'GET',
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return done({ ok: false, error: `reply larger than ${maxBytes} bytes` });
          chunks.push(chunk);
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (status < 200 || status > 299)
            done({ ok: false, error: `HTTP ${status}: ${text.slice(0, 200)}` });
          else done({ ok: true, status, text });
        });
        res.on('error', (err) => done({ ok: false, error: err.message }));
      },
    );
    const timeoutMs = o.timeoutMs ?? PEER_TIMEOUT_MS;
    const timer = setTimeout(() => done({ ok: false, error: `no reply within ${timeoutMs} ms` }), timeoutMs);
    req.on('error', (err) => done({ ok: false, error: err.message }));
    req.end(payload);
  });
}
