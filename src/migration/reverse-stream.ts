// A reverse capture as the migration manager drives it after a switch, whatever the protocol:
// PostgreSQL's ChangeApplier (a logical slot on each target) or MySQL's binlog capture of each
// half (mysql-reverse-capture.ts). The manager only waits on it and stops it.
export interface ReverseStream {
  /** Resolves once the source holds every change the target had committed when called. */
  catchUp(timeoutMs: number, options?: { whileProgressing?: { maxMs: number } }): Promise<string>;
  stop(): Promise<void>;
}
