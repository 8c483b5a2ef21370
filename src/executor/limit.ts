// OFFSET / LIMIT over merged rows (null limit: all rows past the offset).
import type { Row } from './rows.js';

export function pageRows(rows: Row[], offset: number, limit: number | null): Row[] {
  const start = Math.min(offset, rows.length);
  return limit === null ? rows.slice(start) : rows.slice(start, start + limit);
}
