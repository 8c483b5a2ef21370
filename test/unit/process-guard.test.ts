// The last-resort handlers: an exception or rejection nothing caught is logged and the process
// keeps running (in a child process, so the test runner's own handlers play no part).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/local/local-config.js';

describe('installLastResortHandlers', () => {
  it('logs an uncaught exception and an unhandled rejection, and the process carries on', () => {
    const guard = pathToFileURL(join(repoRoot(), 'dist', 'src', 'process-guard.js')).href;
    const log = pathToFileURL(join(repoRoot(), 'dist', 'src', 'log.js')).href;
    const script = `
      const { installLastResortHandlers } = await import(${JSON.stringify(guard)});
      const { createLogger } = await import(${JSON.stringify(log)});
      installLastResortHandlers(createLogger('info', 1));
      setImmediate(() => { throw new Error('boom-sync'); });
      Promise.reject(new Error('boom-async'));
      setTimeout(() => { process.stdout.write('STILL-SERVING\\n'); setTimeout(() => process.exit(0), 100); }, 50);
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('boom-sync');
    expect(run.stdout).toContain('boom-async');
    expect(run.stdout).toContain('STILL-SERVING');
  });
});
