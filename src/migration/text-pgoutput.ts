// pgoutput decoding that keeps every column value as the text PostgreSQL sent. The stock plugin
// runs pg's type parsers (timestamptz -> Date loses microseconds, int8 -> string, float
// rounding...); written back as text, a value must be exactly what the source's output function
// printed. Each Relation message is patched as it is parsed, before the rows that use it.
import { type Pgoutput, PgoutputPlugin } from 'pg-logical-replication';

const keepText = (raw: unknown) => raw;

export class TextPgoutputPlugin extends PgoutputPlugin {
  /** Messages parsed so far (the applier compares it with the messages it handled). */
  parsed = 0;

  override parse(buffer: Buffer): Pgoutput.Message {
    const message = super.parse(buffer);
    if (message.tag === 'relation') for (const column of message.columns) column.parser = keepText;
    this.parsed++;
    return message;
  }
}
