// Timing for the micro benchmarks: `batches` batches of `perBatch` calls, one line with the median
// and p90 time per call over the batches. `cpu` times batches by this thread's CPU time instead of
// the wall clock: on a loaded machine, time spent waiting for a core is then not counted.

export function measureBatches(
  label: string,
  batches: number,
  perBatch: number,
  fn: (i: number) => void,
  clock: 'wall' | 'cpu' = 'wall',
): void {
  const times: number[] = [];
  const nowNs = clock === 'cpu' ? cpuNs : () => Number(process.hrtime.bigint());
  for (let b = 0; b < batches; b++) {
    const t = nowNs();
    for (let i = 0; i < perBatch; i++) fn(b * perBatch + i);
    times.push((nowNs() - t) / perBatch);
  }
  times.sort((x, y) => x - y);
  const med = times[Math.floor(times.length / 2)]!;
  const p90 = times[Math.floor(times.length * 0.9)]!;
  process.stdout.write(
    `${label.padEnd(50)} median ${(med / 1000).toFixed(2)} µs  (p90 ${(p90 / 1000).toFixed(2)} µs)\n`,
  );
}

/** The process's user + system CPU time in nanoseconds (microsecond resolution). */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}
