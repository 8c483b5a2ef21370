#!/usr/bin/env node
// Benchmark entry point: `node dist/bench/main.js <scenario> [options]` (`npm run bench -- pgbench`).
import { benchProgram } from './program.js';

benchProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
