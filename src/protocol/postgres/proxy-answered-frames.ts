// The replies a server would send to each message of an extended-protocol unit that the proxy
// answered itself (its own statements, or rows it merged from several shards): no server saw the
// Parse, so the session learns the statement here as a binding would.
import { BIND_COMPLETE, CLOSE_COMPLETE, encodeReadyForQuery, PARSE_COMPLETE } from './backend-messages.js';
import { decodeParse } from './frontend-messages.js';
import type { QueryCycle } from './query-cycle.js';
import { FE, type UnitFrame } from './units.js';

export interface FrameAnswers {
  /** Describe: `statement` is true for Describe of a statement (ParameterDescription first). */
  describe(out: Buffer[], statement: boolean): void;
  execute(out: Buffer[]): void;
  /** ReadyForQuery status after Sync. */
  status: 'I' | 'T' | 'E';
}

export function answerFrames(
  cycle: QueryCycle,
  frames: readonly UnitFrame[],
  out: Buffer[],
  answers: FrameAnswers,
): void {
  for (const frame of frames) {
    const type = frame.type;
    if (type === FE.Parse) {
      cycle.rememberParse(decodeParse(frame.bytes));
      out.push(PARSE_COMPLETE);
    } else if (type === FE.Bind) out.push(BIND_COMPLETE);
    else if (type === FE.Describe) answers.describe(out, frame.bytes[5] === 0x53);
    else if (type === FE.Execute) answers.execute(out);
    else if (type === FE.Close) out.push(CLOSE_COMPLETE);
    else if (type === FE.Sync) out.push(encodeReadyForQuery(answers.status));
  }
}
