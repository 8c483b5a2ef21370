// Hot-path metric cells for prom-client. prom-client's labelled children hash their label object
// on every inc()/observe(), which costs microseconds; here the data path bumps plain numbers in
// cells it looked up through nested Maps, and the registry reads the cells at scrape time.

/** One histogram series: per-bucket (non-cumulative) counts, sum and count. */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += v;
    this.count++;
  }
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * A histogram metric the prom-client Registry can hold (it calls get() when scraped). Series
 * are created by the data path via cell() and read at scrape time.
 */
export class CellHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: Array<{ labels: Record<string, string>; cell: HistogramCell }> = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
  ) {}

  /** A new series; the caller caches it (label lookups are the caller's business). */
  cell(labels: Record<string, string>): HistogramCell {
    const cell = new HistogramCell(this.bounds);
    this.series.push({ labels, cell });
    return cell;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    for (const { labels, cell } of this.series) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += cell.counts[i]!;
        values.push({
          value: cumulative,
          labels: { ...labels, le: this.bounds[i]! },
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({
        value: cell.count,
        labels: { ...labels, le: '+Inf' },
        metricName: `${this.name}_bucket`,
      });
      values.push({ value: cell.sum, labels, metricName: `${this.name}_sum` });
      values.push({ value: cell.count, labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.series) {
      s.cell.counts.fill(0);
      s.cell.sum = 0;
      s.cell.count = 0;
    }
  }
}
