// The admin HTTP server: JSON API, Prometheus /metrics and the dashboard. Routes marked `open`
// answer anyone on the admin address; every other route needs the token from config (Bearer).
// Who may call what, and the Host check: access.ts. Every JSON answer is passed through a
// redaction of password/secret/token fields.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { bearerMatches, HostCheck } from './access.js';

export interface AdminRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Exact path, or a prefix ending in '/*'. */
  path: string;
  mutating?: boolean;
  /** GET only: answered without the admin token (nothing personal or secret in it). */
  open?: boolean;
  handler(req: AdminRequest): Promise<AdminResponse> | AdminResponse;
}

export interface AdminRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  /** The part of the path matched by '/*'. */
  rest: string;
}

export interface AdminResponse {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
}

export class AdminServer {
  private server: http.Server;
  private routes: AdminRoute[] = [];

  private readonly hosts: HostCheck;

  constructor(
    private readonly log: Logger,
    private readonly token: string | undefined,
    access: { allowedHosts: readonly string[]; listenHost: string } = {
      allowedHosts: [],
      listenHost: '127.0.0.1',
    },
  ) {
    this.hosts = new HostCheck(access.allowedHosts, access.listenHost);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // Last line for this request only: the process and other requests carry on.
        this.log.error({ err }, 'admin request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    // Malformed HTTP (bad request line, oversized headers): answer 400 and close that socket.
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  route(route: AdminRoute): void {
    if (route.open && (route.method !== 'GET' || route.mutating))
      throw new Error(`admin route ${route.method} ${route.path}: only a read may be open`);
    this.routes.push(route);
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  private match(method: string, path: string): { route: AdminRoute; rest: string } | null {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      if (route.path.endsWith('/*')) {
        const prefix = route.path.slice(0, -1);
        if (path.startsWith(prefix)) return { route, rest: path.slice(prefix.length) };
      } else if (route.path === path) {
        return { route, rest: '' };
      }
    }
    return null;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      // Never trust the request target: "//[" and friends throw here.
      url = new URL(req.url ?? '/', 'http://admin');
    } catch {
      return send(res, 400, { error: 'malformed request target' });
    }
    if (!this.hosts.allows(req.headers.host)) {
      return send(res, 403, {
        error:
          'Host not allowed: use a loopback name or an IP address, or add the name to admin.allowedHosts',
      });
    }
    try {
      const found = this.match(method, url.pathname);
      if (!found) {
        const known = this.routes.some((r) => r.path === url.pathname);
        return send(res, known ? 405 : 404, {
          error: known ? 'method not allowed' : 'not found',
          path: url.pathname,
        });
      }
      if (!found.route.open) {
        if (!this.token) {
          return send(res, 403, {
            error:
              'this endpoint needs the admin token, and none is configured: set admin.token in the config',
          });
        }
        if (!bearerMatches(req.headers.authorization, this.token)) {
          return send(res, 401, {
            error: 'missing or wrong token: send Authorization: Bearer <admin.token>',
          });
        }
      }
      const body = method === 'GET' ? null : await readJson(req);
      const response = await found.route.handler({
        method,
        path: url.pathname,
        query: url.searchParams,
        body,
        rest: found.rest,
      });
      if (response.text !== undefined) {
        res.writeHead(response.status ?? 200, {
          'content-type': response.contentType ?? 'text/plain; charset=utf-8',
        });
        res.end(response.text);
        return;
      }
      send(res, response.status ?? 200, response.json ?? {});
    } catch (err) {
      const status = (err as { status?: number }).status ?? 500;
      if (status >= 500) this.log.error({ err, path: url.pathname }, 'admin request failed');
      send(res, status, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections?.();
      this.server.close(() => resolve());
    });
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Field names whose values never leave the process through the API. */
const SECRET_FIELD = /password|passwd|^pwd$|secret|token|credential/i;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(
    body,
    (k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (k !== '' && SECRET_FIELD.test(k) && v !== null && v !== undefined && typeof v !== 'object')
        return '[redacted]';
      return v;
    },
    2,
  );
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 1_000_000) {
        reject(new HttpError(413, 'request body too large'));
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on('end', () => {
      if (parts.length === 0) return resolve(null);
      try {
        resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}
