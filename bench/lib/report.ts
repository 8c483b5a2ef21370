// Console tables, Markdown tables and result files. Every scenario writes
// bench/results/<scenario>-<timestamp>.json plus <scenario>-latest.{json,svg,md}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type Align = 'left' | 'right';

/** A plain-text table with a header rule; numbers are best pre-formatted by the caller. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly Align[],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number) => {
    const w = widths[i] ?? 0;
    return (align?.[i] ?? (i === 0 ? 'left' : 'right')) === 'left' ? text.padEnd(w) : text.padStart(w);
  };
  const line = (cells: readonly string[]) =>
    headers
      .map((_, i) => cell(cells[i] ?? '', i))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** A GitHub-flavoured Markdown table; `|` in cells is escaped. */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly Align[],
): string {
  const esc = (s: string) => s.replaceAll('|', '\\|');
  const sep = headers.map((_, i) =>
    (align?.[i] ?? (i === 0 ? 'left' : 'right')) === 'left' ? '---' : '---:',
  );
  return [
    `| ${headers.map(esc).join(' | ')} |`,
    `| ${sep.join(' | ')} |`,
    ...rows.map((r) => `| ${headers.map((_, i) => esc(r[i] ?? '')).join(' | ')} |`),
  ].join('\n');
}

/** Fixed decimals, or "-" for a missing figure. */
export function fmt(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  return value.toFixed(digits);
}

/** "median [min-max]". */
export function fmtSpread(median: number, lo: number, hi: number, digits = 0): string {
  if (!Number.isFinite(median)) return '-';
  return `${fmt(median, digits)} [${fmt(lo, digits)}-${fmt(hi, digits)}]`;
}

/** A file-name-safe UTC timestamp: 2026-11-01T03-49-28Z. */
export function fileTimestamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-');
}

/** JSON with NaN/Infinity as null (JSON.stringify would do so too, but silently for nested values). */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

export interface WrittenFiles {
  json: string;
  latestJson: string;
  svg?: string;
  markdown?: string;
}

export interface WriteResultOptions {
  /** Directory for the timestamped and -latest files. */
  dir: string;
  scenario: string;
  timestamp: string;
  result: unknown;
  svg?: string;
  markdown?: string;
  /** An extra copy of the JSON (the --json option). */
  jsonPath?: string;
}

export function writeResultFiles(options: WriteResultOptions): WrittenFiles {
  mkdirSync(options.dir, { recursive: true });
  const body = toJson(options.result);
  const json = join(options.dir, `${options.scenario}-${options.timestamp}.json`);
  const latestJson = join(options.dir, `${options.scenario}-latest.json`);
  writeFileSync(json, body);
  writeFileSync(latestJson, body);
  const out: WrittenFiles = { json, latestJson };
  if (options.svg !== undefined) {
    out.svg = join(options.dir, `${options.scenario}-latest.svg`);
    writeFileSync(out.svg, options.svg);
  }
  if (options.markdown !== undefined) {
    out.markdown = join(options.dir, `${options.scenario}-latest.md`);
    writeFileSync(out.markdown, options.markdown);
  }
  if (options.jsonPath) {
    mkdirSync(dirname(options.jsonPath), { recursive: true });
    writeFileSync(options.jsonPath, body);
  }
  return out;
}
