// Polling for a condition the proxy reaches asynchronously (a slot given back, a server shunned,
// a transaction resolved): the integration tests wait for states, never for fixed times.

/** Polls `check` every `everyMs` until it holds; past `ms` (and still false) throws, naming `what`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 30_000,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
