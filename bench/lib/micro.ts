// Timing for the micro benchmarks: `batches` batches of `perBatch` calls, one line with the median
// and p90 time per call over the batches.

export function measureBatches(
  label: string,
  batches: number,
  perBatch: number,
  fn: (i: number) => void,
): void {
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) fn(b * perBatch + i);
    times.push(Number(process.hrtime.bigint() - t) / perBatch);
  }
  times.sort((x, y) => x - y);
  const med = times[Math.floor(times.length / 2)]!;
  const p90 = times[Math.floor(times.length * 0.9)]!;
  process.stdout.write(
    `${label.padEnd(50)} median ${(med / 1000).toFixed(2)} µs  (p90 ${(p90 / 1000).toFixed(2)} µs)\n`,
  );
}
