import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  createHostSampler,
  diskPercent,
  LocalHostSampler,
  NodeExporterSampler,
  nodeExporterFigures,
  parseMeminfo,
  parseProcStat,
  parsePrometheusText,
} from '../../src/observability/host-metrics.js';

const FIXTURE = `# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 900
node_cpu_seconds_total{cpu="0",mode="iowait"} 50
node_cpu_seconds_total{cpu="0",mode="system"} 20
node_cpu_seconds_total{cpu="0",mode="user"} 30
node_cpu_seconds_total{cpu="1",mode="idle"} 800
node_cpu_seconds_total{cpu="1",mode="user"} 200
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes 2.5e+09
node_memory_MemTotal_bytes 1e+10
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 2.5e+10
node_filesystem_size_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 1e+11
node_filesystem_avail_bytes{device="/dev/sdb1",fstype="ext4",mountpoint="/data"} 9e+10
node_filesystem_size_bytes{device="/dev/sdb1",fstype="ext4",mountpoint="/data"} 1e+11
weird_metric{label="a \\"quoted\\" }value"} 1 1700000000000
garbage line without value
nan_metric NaN
`;

describe('host metrics', () => {
  it('reads this machine: numbers in 0-100', async () => {
    const s = new LocalHostSampler(tmpdir());
    const first = await s.sample();
    expect(first.cpuPercent).toBeNull(); // needs two samples
    await new Promise((r) => setTimeout(r, 50));
    const f = await s.sample();
    for (const v of [f.cpuPercent, f.memoryPercent, f.diskPercent]) {
      expect(typeof v).toBe('number');
      expect(v!).toBeGreaterThanOrEqual(0);
      expect(v!).toBeLessThanOrEqual(100);
    }
    expect(await diskPercent('/')).toBeLessThanOrEqual(100);
  });

  it('parses /proc formats and refuses what it does not know', () => {
    expect(parseProcStat('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n')).toEqual({
      busy: 150,
      total: 1000,
    });
    expect(parseProcStat('nothing here')).toBeNull();
    expect(parseMeminfo('MemTotal:       1000 kB\nMemFree: 1 kB\nMemAvailable:    250 kB\n')).toBe(75);
    expect(parseMeminfo('MemTotal: 1000 kB\n')).toBeNull();
  });

  it('parses the Prometheus text format of node_exporter', () => {
    const samples = parsePrometheusText(FIXTURE);
    expect(samples.find((s) => s.name === 'weird_metric')!.labels.label).toBe('a "quoted" }value');
    expect(samples.some((s) => s.name === 'garbage')).toBe(false);
    const f = nodeExporterFigures(samples);
    expect(f.cpu).toEqual({ busy: 250, total: 2000 });
    expect(f.memoryPercent).toBe(75);
    expect(f.diskPercent).toBe(75);
    expect(nodeExporterFigures(samples, '/data').diskPercent).toBeCloseTo(10, 9);
    expect(nodeExporterFigures(parsePrometheusText('up 1\n'))).toEqual({
      cpu: null,
      memoryPercent: null,
      diskPercent: null,
    });
    expect(() => parsePrometheusText('\u0000\u00ff{{{ "\n}}} 1 2 3')).not.toThrow();
  });

  it('scrapes a node_exporter URL; CPU from the delta of two scrapes', async () => {
    let idle = 900;
    const server = createServer((_req, res) => {
      res.end(FIXTURE.replace('mode="idle"} 900', `mode="idle"} ${idle}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
      const s = createHostSampler(url);
      expect(s).toBeInstanceOf(NodeExporterSampler);
      const first = await s.sample();
      expect(first).toMatchObject({
        cpuPercent: null,
        memoryPercent: 75,
        diskPercent: 75,
        source: 'node_exporter',
      });
      idle = 990; // 90 s more idle, no busy time: 0 % busy
      expect((await s.sample()).cpuPercent).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('reports unknown, never invented, when the exporter is unreachable or not configured', async () => {
    const dead = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    const f = await new NodeExporterSampler(`http://127.0.0.1:${dead}/metrics`, { timeoutMs: 500 }).sample();
    expect(f).toMatchObject({ cpuPercent: null, memoryPercent: null, diskPercent: null });
    expect(f.error).toBeTruthy();
    expect(await createHostSampler(undefined).sample()).toEqual({
      cpuPercent: null,
      memoryPercent: null,
      diskPercent: null,
      source: 'none',
      error: null,
    });
  });
});
