// /metrics?scope=cluster's merge of several instances' exposition texts: instance labels added to
// every sample (labelled or not), each family's HELP/TYPE once with all instances' samples after
// it (histogram suffixes included), label values escaped, and a peer's garbage lines dropped.
import { describe, expect, it } from 'vitest';
import { mergeExpositions } from '../../src/observability/prometheus-merge.js';

const text = (n: number) => `# HELP up_total Things.
# TYPE up_total counter
up_total{kind="a"} ${n}
up_total ${n + 1}
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} ${n}
lat_seconds_bucket{le="+Inf"} ${n}
lat_seconds_sum 0.5
lat_seconds_count ${n}
`;

describe('mergeExpositions', () => {
  it('labels every sample with its instance and keeps each family contiguous', () => {
    const out = mergeExpositions([
      { instance: 'A', text: text(1) },
      { instance: 'B', text: text(2) },
    ]);
    expect(out).toBe(`# HELP up_total Things.
# TYPE up_total counter
up_total{instance="A",kind="a"} 1
up_total{instance="A"} 2
up_total{instance="B",kind="a"} 2
up_total{instance="B"} 3
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{instance="A",le="0.1"} 1
lat_seconds_bucket{instance="A",le="+Inf"} 1
lat_seconds_sum{instance="A"} 0.5
lat_seconds_count{instance="A"} 1
lat_seconds_bucket{instance="B",le="0.1"} 2
lat_seconds_bucket{instance="B",le="+Inf"} 2
lat_seconds_sum{instance="B"} 0.5
lat_seconds_count{instance="B"} 2
`);
  });

  it('escapes the instance name and drops lines that are no samples', () => {
    const out = mergeExpositions([{ instance: 'we"ird\\id', text: 'x{} 1\n}{ garbage\n# a comment\n' }]);
    expect(out).toBe('x{instance="we\\"ird\\\\id"} 1\n');
  });
});
