// The split load test's writer pool in a worker thread, so generating ~1,000 writes/s does not
// compete with the proxy (and the migration it runs) for the same event loop. Messages:
// 'count' -> { writes }, 'stop' -> { ledger } (Maps as entry arrays).
import { parentPort, workerData } from 'node:worker_threads';
import { type Ledger, startWriterPool, type WriterPoolOptions } from './write-ledger.js';

const pool = startWriterPool(workerData as WriterPoolOptions);

export type SerializedLedger = Omit<Ledger, 'inserted' | 'failedInserts' | 'titles'> & {
  inserted: Array<[number, number]>;
  failedInserts: number[];
  titles: Array<[number, string]>;
};

parentPort?.on('message', (message: string) => {
  if (message === 'count') {
    parentPort?.postMessage({ writes: pool.ledger.writes });
    return;
  }
  if (message === 'stop') {
    void pool.stop().then(() => {
      const l = pool.ledger;
      const ledger: SerializedLedger = {
        ...l,
        inserted: [...l.inserted],
        failedInserts: [...l.failedInserts],
        titles: [...l.titles],
      };
      parentPort?.postMessage({ ledger });
    });
  }
});
