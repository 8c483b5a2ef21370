// The PostgreSQL transaction tests make a shard fail at COMMIT (at PREPARE under two-phase commit)
// with a deferred constraint trigger on balances: a row with balance 666 is refused there.
import type pg from 'pg';

/**
 * Creates sg_refuse_666 on the server of `d`: after each `event` on balances, checked at COMMIT,
 * balance 666 is refused, and each balance of `sleeps` sleeps there for its seconds.
 */
export async function refuse666AtCommit(
  d: pg.Client,
  event: 'INSERT' | 'UPDATE',
  sleeps: Record<number, number> = {},
): Promise<void> {
  const sleeping = Object.entries(sleeps).map(
    ([balance, seconds]) => `IF NEW.balance = ${balance} THEN PERFORM pg_sleep(${seconds}); END IF;`,
  );
  await d.query(`CREATE FUNCTION sg_refuse_666() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.balance = 666 THEN RAISE EXCEPTION 'balance 666 refused at commit'; END IF;
      ${sleeping.join('\n      ')}
      RETURN NULL;
    END $$`);
  await d.query(`CREATE CONSTRAINT TRIGGER sg_refuse_666 AFTER ${event} ON balances
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sg_refuse_666()`);
}
