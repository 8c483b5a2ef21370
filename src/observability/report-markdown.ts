// A report as Markdown: a heading per section, a table per list of rows, key: value lines otherwise.
import type { Report } from './reports.js';

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'unknown';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  if (Array.isArray(v)) return v.map(cell).join(', ') || '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v).replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function title(key: string): string {
  const words = key.replace(/([A-Z])/g, ' $1').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function block(key: string, value: unknown, depth: number): string[] {
  const head = `${'#'.repeat(depth)} ${title(key)}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return [head, '', 'none', ''];
    const cols = [...new Set(value.flatMap((row) => Object.keys(row as object)))];
    return [
      head,
      '',
      `| ${cols.join(' | ')} |`,
      `|${cols.map(() => '---').join('|')}|`,
      ...value.map((row) => `| ${cols.map((c) => cell((row as Record<string, unknown>)[c])).join(' | ')} |`),
      '',
    ];
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    const nested = entries.filter(([, v]) => v !== null && typeof v === 'object');
    const flat = entries.filter(([, v]) => v === null || typeof v !== 'object');
    return [
      head,
      '',
      ...flat.map(([k, v]) => `- ${k}: ${cell(v)}`),
      ...(flat.length > 0 ? [''] : []),
      ...nested.flatMap(([k, v]) => block(k, v, depth + 1)),
    ];
  }
  return [head, '', cell(value), ''];
}

export function reportMarkdown(report: Report): string {
  const lines = [
    `# shardgate ${report.kind} report`,
    '',
    `Period ${report.from} to ${report.to}.`,
    '',
    ...Object.entries(report.sections).flatMap(([k, v]) => block(k, v, 2)),
  ];
  return `${lines.join('\n').trimEnd()}\n`;
}
