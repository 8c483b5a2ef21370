// Last-resort handlers for a serving process: an exception or rejection nothing caught is logged
// and the process keeps serving. One bad request (admin HTTP, PostgreSQL or MySQL listener) must
// never end every other session; the per-request and per-session handlers are the first line.
import type { Logger } from 'pino';

let installed = false;

export function installLastResortHandlers(log: Logger): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (err, origin) => {
    log.error({ err, origin }, 'uncaught exception (kept serving)');
  });
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled rejection (kept serving)');
  });
}
