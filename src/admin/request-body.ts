// Request bodies of mutating admin endpoints: parsed with their zod schema, a malformed one
// answered 400 with every problem named (field path and message), so a client sees what to fix.
import type { z } from 'zod';
import { HttpError } from './http.js';

/** `body` parsed by `schema`; otherwise a 400 `invalid <what>: ...`. */
export function parseRequestBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new HttpError(
      400,
      `invalid ${what}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
