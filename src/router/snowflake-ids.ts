// Ids unique across shards without a round trip: Snowflake-style 64-bit values made of the
// milliseconds since 2024-01-01 (41 bits, until 2093), the proxy's instance id (10 bits) and a
// per-millisecond sequence (12 bits). Ids of one instance strictly increase: when a
// millisecond's 4096 ids are used up, or the clock steps back, the next ids borrow the
// following milliseconds of a logical clock instead of waiting.
export const SNOWFLAKE_EPOCH_MS = Date.UTC(2024, 0, 1);
const SEQUENCE_BITS = 12n;
const INSTANCE_BITS = 10n;
const MAX_SEQUENCE = (1 << Number(SEQUENCE_BITS)) - 1;

export class SnowflakeIds {
  private lastMs = -1;
  private sequence = 0;

  constructor(
    readonly instanceId: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(instanceId) || instanceId < 0 || instanceId >= 1 << Number(INSTANCE_BITS))
      throw new RangeError(`instance id ${instanceId} is not in 0..1023`);
  }

  next(): bigint {
    const ms = Math.max(this.now() - SNOWFLAKE_EPOCH_MS, 0);
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.sequence = 0;
    } else if (this.sequence < MAX_SEQUENCE) this.sequence++;
    else {
      this.lastMs++;
      this.sequence = 0;
    }
    return (
      (BigInt(this.lastMs) << (SEQUENCE_BITS + INSTANCE_BITS)) |
      (BigInt(this.instanceId) << SEQUENCE_BITS) |
      BigInt(this.sequence)
    );
  }
}
