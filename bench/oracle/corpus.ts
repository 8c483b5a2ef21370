// The hand-written corpus: test/differential/corpus/<dialect>/<class>.sql, one file per class of
// SQL. Statements end with ";" at the end of a line; lines starting with "--" are comments, and
// "-- known: <who fixes it>" right before a statement marks it as a known failure (see
// known-failures.ts): a mismatch on it is listed, not failed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../src/local/local-config.js';
import type { Statement } from './harness.js';

export function corpusDir(dialect: 'postgres' | 'mysql'): string {
  return join(repoRoot(), 'test', 'differential', 'corpus', dialect);
}

/** Statements of one corpus file, each with file:line as its source. */
export function parseCorpus(text: string, file: string): Statement[] {
  const out: Statement[] = [];
  let buf: string[] = [];
  let startLine = 0;
  let known: string | null = null;
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    const mark = /^--\s*known:\s*(.+)$/.exec(trimmed);
    if (buf.length === 0 && mark) known = mark[1]!;
    if (buf.length === 0 && (trimmed === '' || trimmed.startsWith('--'))) return;
    if (buf.length === 0) startLine = i + 1;
    buf.push(line);
    if (trimmed.endsWith(';')) {
      const sql = buf.join('\n').trim().replace(/;$/, '');
      out.push({ sql, source: `${file}:${startLine}`, ...(known ? { known } : {}) });
      buf = [];
      known = null;
    }
  });
  if (buf.length > 0) throw new Error(`${file}:${startLine}: statement without a closing ";"`);
  return out;
}

export interface CorpusClass {
  name: string;
  statements: Statement[];
}

export function loadCorpus(dialect: 'postgres' | 'mysql'): CorpusClass[] {
  const dir = corpusDir(dialect);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => ({
      name: f.replace(/\.sql$/, ''),
      statements: parseCorpus(readFileSync(join(dir, f), 'utf8'), f),
    }));
}
