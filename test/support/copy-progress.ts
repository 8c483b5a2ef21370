// Waiting for a MySQL migration's copy to get far enough (to kill the proxy mid-copy, say), and
// keeping the status that showed it: the suites then check what the API said during the copy.
import type { Status } from './mysql-migration-driver.js';
import { waitFor } from './wait-for.js';

/** The status of migration `id` once it is copying and `far` holds of it, polled every 100 ms. */
export async function statusWhileCopying(
  d: { status(id: string): Promise<Status> },
  id: string,
  what: string,
  far: (s: Status) => boolean,
  ms: number,
): Promise<Status> {
  let seen: Status | null = null;
  await waitFor(
    what,
    async () => {
      const s = await d.status(id);
      seen = s;
      return s.phase === 'copying' && far(s);
    },
    ms,
    100,
  );
  return seen as unknown as Status;
}
