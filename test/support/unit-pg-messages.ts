// PostgreSQL frontend messages the codec tests build again and again.
import { encodeBind } from '../../src/protocol/postgres/frontend-encoders.js';

/** Bind of the unnamed statement to the unnamed portal, parameters in text, results in text. */
export function unnamedBind(values: Array<Buffer | null>, paramFormats: number[] = []): Buffer {
  return encodeBind({ portal: '', statement: '', paramFormats, values, resultFormats: [] });
}
