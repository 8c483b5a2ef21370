// A small client for the admin HTTP API, shared by `shardgate status`, `rules` and `migrate`.

export interface AdminClientOptions {
  url: string;
  token?: string;
}

export async function adminRequest<T>(
  opts: AdminClientOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let res: Response;
  try {
    res = await fetch(new URL(path, opts.url), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new Error(
      `cannot reach the shardgate admin API at ${opts.url} (${err instanceof Error ? err.message : String(err)}); is the proxy running? set --admin-url`,
    );
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = { error: text };
  }
  if (!res.ok) {
    const message = (json as { error?: string })?.error ?? res.statusText;
    throw new Error(`${method} ${path} failed (${res.status}): ${message}`);
  }
  return json as T;
}

/** Renders rows as an aligned text table. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** Prints rows as an aligned text table on stdout. */
export function printTable(headers: string[], rows: Array<Array<string | number | null | undefined>>): void {
  process.stdout.write(`${table(headers, rows)}\n`);
}

export function adminOptions(
  program: { opts(): Record<string, unknown> },
  local: Record<string, unknown>,
): AdminClientOptions {
  const url =
    (local.adminUrl as string) ??
    (program.opts().adminUrl as string) ??
    process.env.SHARDGATE_ADMIN_URL ??
    'http://127.0.0.1:9930';
  const token = (local.token as string) ?? process.env.SHARDGATE_ADMIN_TOKEN;
  return { url, token };
}
