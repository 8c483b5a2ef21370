// Who may call the admin API. Routes marked `open` (health, metrics, the dashboard page, topology
// and alert rules) answer anyone who reaches the admin address; every other route needs the
// admin token, because it changes state or shows data (hot-key values can be personal data,
// migrations name servers). Every request's Host must be a loopback name, an IP literal or a name
// in admin.allowedHosts: a web page that rebinds its own DNS name to 127.0.0.1 is refused.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

/** Host header -> hostname in lower case without port or brackets; null when unparsable. */
export function hostnameOf(hostHeader: string): string | null {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : null;
  }
  const colon = h.indexOf(':');
  const name = colon >= 0 ? h.slice(0, colon) : h;
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export class HostCheck {
  private readonly allowed: Set<string>;

  constructor(allowedHosts: readonly string[], listenHost: string) {
    this.allowed = new Set(allowedHosts.map((h) => h.toLowerCase()));
    this.allowed.add(listenHost.toLowerCase());
  }

  /** A request without Host (HTTP/1.0 tools) cannot come from a browser page: allowed. */
  allows(hostHeader: string | undefined): boolean {
    if (hostHeader === undefined) return true;
    const name = hostnameOf(hostHeader);
    if (!name) return false;
    // An IP literal cannot be rebound: the page's origin is that address itself.
    return (
      isIP(name) !== 0 || LOOPBACK_NAMES.has(name) || name.endsWith('.localhost') || this.allowed.has(name)
    );
  }
}

/** Compares "Bearer <token>" against the configured token in constant time. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : '';
  // Digests have equal lengths, so neither the content nor the length leaks through timing.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && given.length > 0;
}
