// Hand-written SVG charts for benchmark reports: grouped bars (median with min-max whiskers)
// and lines. Plain SVG 1.1 text, no scripts, readable in a browser or a GitHub README.

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#9c755f'];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

export function escapeXml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

/** Round axis ticks from 0 to at least `maxValue`: steps of 1, 2, 2.5 or 5 times a power of ten. */
export function niceTicks(maxValue: number, target = 5): number[] {
  if (!Number.isFinite(maxValue) || maxValue <= 0) return [0, 1];
  const raw = maxValue / Math.max(1, target);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * pow >= raw) ?? 10) * pow;
  const ticks: number[] = [];
  for (let i = 0; i <= 100; i++) {
    const v = Number((i * step).toPrecision(12));
    ticks.push(v);
    if (v >= maxValue) break;
  }
  return ticks;
}

/** Compact tick label: 12500 -> "12.5k". */
export function tickLabel(v: number): string {
  const abs = Math.abs(v);
  const trim = (x: number) => Number(x.toPrecision(3)).toString();
  if (abs >= 1e6) return `${trim(v / 1e6)}M`;
  if (abs >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

export interface BarPoint {
  value: number;
  /** Optional whisker (e.g. min-max over repeats). */
  low?: number;
  high?: number;
}

export interface BarChartInput {
  title: string;
  yLabel: string;
  series: readonly string[];
  /** One group per x category; `values[i]` belongs to series[i] (missing or NaN: no bar). */
  groups: readonly { label: string; values: readonly (BarPoint | undefined)[] }[];
  subtitle?: string;
}

function legend(series: readonly string[], x: number, y: number): string {
  let cx = x;
  const parts: string[] = [];
  series.forEach((name, i) => {
    parts.push(`<rect x="${cx}" y="${y - 10}" width="12" height="12" fill="${seriesColor(i)}"/>`);
    parts.push(`<text x="${cx + 16}" y="${y}" font-size="12" ${FONT}>${escapeXml(name)}</text>`);
    cx += 16 + name.length * 7 + 18;
  });
  return parts.join('\n');
}

function header(width: number, height: number, title: string, subtitle?: string): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" font-size="15" font-weight="600" text-anchor="middle" ${FONT}>${escapeXml(title)}</text>`,
  ];
  if (subtitle) {
    out.push(
      `<text x="${width / 2}" y="40" font-size="11" fill="#555" text-anchor="middle" ${FONT}>${escapeXml(subtitle)}</text>`,
    );
  }
  return out;
}

function yAxis(
  ticks: number[],
  left: number,
  right: number,
  top: number,
  plotH: number,
  yLabel: string,
): string[] {
  const top0 = ticks[ticks.length - 1] ?? 1;
  const out: string[] = [];
  for (const t of ticks) {
    const y = top + plotH - (t / top0) * plotH;
    out.push(`<line x1="${left}" y1="${y.toFixed(1)}" x2="${right}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(
      `<text x="${left - 6}" y="${(y + 4).toFixed(1)}" font-size="11" text-anchor="end" ${FONT}>${tickLabel(t)}</text>`,
    );
  }
  const midY = top + plotH / 2;
  out.push(
    `<text x="14" y="${midY}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${midY})" ${FONT}>${escapeXml(yLabel)}</text>`,
  );
  out.push(`<line x1="${left}" y1="${top + plotH}" x2="${right}" y2="${top + plotH}" stroke="#333"/>`);
  return out;
}

export function barChart(input: BarChartInput): string {
  const nSeries = Math.max(1, input.series.length);
  const barW = 16;
  const groupW = nSeries * barW + 24;
  const left = 64;
  const top = input.subtitle ? 70 : 56;
  const plotH = 240;
  // Wide enough for the bars, the title and the subtitle (about 6 px per character at 11 px).
  const textW = Math.max(input.title.length * 8, (input.subtitle?.length ?? 0) * 6) + 40;
  const width = Math.max(560, textW, left + input.groups.length * groupW + 20);
  const height = top + plotH + 56;
  const right = width - 20;
  let maxValue = 0;
  for (const g of input.groups) {
    for (const p of g.values) {
      if (p && Number.isFinite(p.value))
        maxValue = Math.max(maxValue, p.value, Number.isFinite(p.high) ? (p.high as number) : 0);
    }
  }
  const ticks = niceTicks(maxValue);
  const scaleTop = ticks[ticks.length - 1] ?? 1;
  const y = (v: number) => top + plotH - (Math.max(0, v) / scaleTop) * plotH;
  const out = header(width, height, input.title, input.subtitle);
  out.push(legend(input.series, left, top - 12));
  out.push(...yAxis(ticks, left, right, top, plotH, input.yLabel));
  input.groups.forEach((g, gi) => {
    const gx = left + gi * groupW + 12;
    g.values.forEach((p, si) => {
      const x = gx + si * barW;
      if (!p || !Number.isFinite(p.value)) {
        out.push(
          `<text x="${x + barW / 2}" y="${top + plotH - 4}" font-size="9" fill="#999" text-anchor="middle" ${FONT}>n/a</text>`,
        );
        return;
      }
      const yTop = y(p.value);
      const series = escapeXml(input.series[si] ?? '');
      out.push(
        `<rect x="${x}" y="${yTop.toFixed(1)}" width="${barW - 2}" height="${(top + plotH - yTop).toFixed(1)}" fill="${seriesColor(si)}"><title>${series} ${escapeXml(g.label)}: ${tickLabel(p.value)}</title></rect>`,
      );
      if (Number.isFinite(p.low) && Number.isFinite(p.high)) {
        const cx = x + (barW - 2) / 2;
        const y1 = y(p.low as number).toFixed(1);
        const y2 = y(p.high as number).toFixed(1);
        out.push(`<line x1="${cx}" y1="${y1}" x2="${cx}" y2="${y2}" stroke="#222"/>`);
        out.push(`<line x1="${cx - 3}" y1="${y1}" x2="${cx + 3}" y2="${y1}" stroke="#222"/>`);
        out.push(`<line x1="${cx - 3}" y1="${y2}" x2="${cx + 3}" y2="${y2}" stroke="#222"/>`);
      }
    });
    const lines = g.label.split('\n');
    lines.forEach((line, li) => {
      out.push(
        `<text x="${gx + (nSeries * barW) / 2}" y="${top + plotH + 16 + li * 13}" font-size="11" text-anchor="middle" ${FONT}>${escapeXml(line)}</text>`,
      );
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface LineChartInput {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly { name: string; points: readonly { x: number; y: number }[] }[];
  subtitle?: string;
}

export function lineChart(input: LineChartInput): string {
  const left = 64;
  const top = input.subtitle ? 70 : 56;
  const plotH = 240;
  const width = 640;
  const height = top + plotH + 50;
  const right = width - 20;
  const pts = input.series.flatMap((s) =>
    s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)),
  );
  const xMin = pts.length > 0 ? Math.min(...pts.map((p) => p.x)) : 0;
  const xMax = pts.length > 0 ? Math.max(...pts.map((p) => p.x)) : 1;
  const ticks = niceTicks(pts.length > 0 ? Math.max(...pts.map((p) => p.y)) : 1);
  const scaleTop = ticks[ticks.length - 1] ?? 1;
  const xSpan = xMax - xMin || 1;
  const px = (x: number) => left + ((x - xMin) / xSpan) * (right - left);
  const py = (v: number) => top + plotH - (Math.max(0, v) / scaleTop) * plotH;
  const out = header(width, height, input.title, input.subtitle);
  out.push(
    legend(
      input.series.map((s) => s.name),
      left,
      top - 12,
    ),
  );
  out.push(...yAxis(ticks, left, right, top, plotH, input.yLabel));
  for (const t of niceXTicks(xMin, xMax)) {
    out.push(
      `<text x="${px(t).toFixed(1)}" y="${top + plotH + 16}" font-size="11" text-anchor="middle" ${FONT}>${tickLabel(t)}</text>`,
    );
  }
  out.push(
    `<text x="${(left + right) / 2}" y="${top + plotH + 36}" font-size="12" text-anchor="middle" ${FONT}>${escapeXml(input.xLabel)}</text>`,
  );
  input.series.forEach((s, si) => {
    const valid = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (valid.length === 0) return;
    const d = valid
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`)
      .join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${seriesColor(si)}" stroke-width="2"/>`);
    for (const p of valid) {
      out.push(
        `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="2.5" fill="${seriesColor(si)}"/>`,
      );
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function niceXTicks(lo: number, hi: number): number[] {
  if (hi <= lo) return [lo];
  const span = hi - lo;
  const raw = span / 6;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * pow >= raw) ?? 10) * pow;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step, i = 0; v <= hi + 1e-9 && i < 50; v += step, i++) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}
