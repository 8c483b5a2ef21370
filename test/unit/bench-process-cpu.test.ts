import { describe, expect, it } from 'vitest';
import { processTreeCpuMs } from '../../bench/lib/process-cpu.js';

describe('processTreeCpuMs', () => {
  it("counts a process's descendants: the parent's tree holds at least what this process used", () => {
    const mine = processTreeCpuMs(process.pid);
    expect(mine).not.toBeNull();
    // Read later and including this process, the parent's tree cannot have used less.
    expect(processTreeCpuMs(process.ppid)).toBeGreaterThanOrEqual(mine!);
  });

  it('is null for no process or one that does not exist', () => {
    expect(processTreeCpuMs(undefined)).toBeNull();
    expect(processTreeCpuMs(2 ** 30)).toBeNull();
  });
});
