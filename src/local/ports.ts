// Free loopback ports for the servers the launcher starts.
//
// Why not listen(0): the kernel hands out port 0 requests from the ephemeral range
// (ip_local_port_range, 32768-60999 here), the same range it takes the local ports of outgoing
// connections from. A port found free that way can be taken by any client socket (the proxy's
// pools open hundreds) before the server binds it, or while a killed server is down before its
// restart; that made a test fail now and then. Ports are drawn below the ephemeral range instead,
// never twice in one process, and checked bindable just before they are handed out.

import { readFileSync } from 'node:fs';
import net from 'node:net';

const FALLBACK_LOW = 15_000;
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (outgoing connections use ports from there on). */
function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(low);
    return Number.isInteger(n) && n > FALLBACK_LOW + 2_000 ? n : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A port below the ephemeral range that is free on 127.0.0.1 right now and was not handed out
 * before by this process. Another process may still take it; launchers retry on "address in use".
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const high = ephemeralLow();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FALLBACK_LOW + Math.floor(Math.random() * (high - FALLBACK_LOW));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port, host)) return port;
  }
  throw new Error(`no free port found on ${host} between ${FALLBACK_LOW} and ${high}`);
}
