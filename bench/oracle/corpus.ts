// The hand-written corpus: test/differential/corpus/<dialect>/<class>.sql, one file per class of
// SQL, and corpus/both/<class>.sql for the statements both dialects spell alike (run on both,
// right after the dialect's own file of that class, so a write class's reads follow its writes). Statements end with ";" at the end of a line; lines starting with "--" are comments, and
// "-- known: <who fixes it>" right before a statement marks it as a known failure (see
// known-failures.ts): a mismatch on it is listed, not failed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../src/local/local-config.js';
import type { Statement } from './harness.js';

export function corpusDir(dialect: 'postgres' | 'mysql' | 'both'): string {
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
  const files = (dir: 'postgres' | 'mysql' | 'both') =>
    readdirSync(corpusDir(dir))
      .filter((f) => f.endsWith('.sql'))
      .map((f) => ({ dir, f, name: f.replace(/\.sql$/, '') }));
  const rank = (x: { name: string; dir: string }) => [x.name, x.dir === 'both' ? 1 : 0] as const;
  const sorted = [...files(dialect), ...files('both')].sort((a, b) => {
    const [an, ab] = rank(a);
    const [bn, bb] = rank(b);
    return an < bn ? -1 : an > bn ? 1 : ab - bb;
  });
  return sorted.map(({ dir, f, name }) => {
    const source = dir === 'both' ? `both/${f}` : f;
    return {
      name: dir === 'both' ? `both/${name}` : name,
      statements: parseCorpus(readFileSync(join(corpusDir(dir), f), 'utf8'), source),
    };
  });
}
