// No module of src/ may load, at run time, a module that loads it back: with ESM a cycle means one
// of them runs while the other's exports are still undefined, and the order depends on which one
// the entry point happens to import first. Type-only imports do not count (tsc erases them).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importCycles, runtimeImportGraph } from '../support/import-graph.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/**
 * Cycles known and owned elsewhere. Each entry must still exist (the test fails when it is gone,
 * so the list only shrinks). Empty: the last one (promotions.ts <-> topology.ts) went when
 * serverNames moved to backend/server-names.ts.
 */
const KNOWN: string[][] = [];

describe('runtime import graph of src/', () => {
  const graph = runtimeImportGraph(SRC);

  it('reads the whole tree', () => {
    expect(graph.size).toBeGreaterThan(200);
    expect(graph.get('cli/main.ts')?.length).toBeGreaterThan(0);
  });

  it('has no import cycle', () => {
    const cycles = importCycles(graph);
    const key = (c: string[]) => c.join(' -> ');
    expect(cycles.map(key).filter((c) => !KNOWN.map(key).includes(c))).toEqual([]);
    expect(KNOWN.map(key).filter((c) => !cycles.map(key).includes(c))).toEqual([]);
  });
});

describe('import cycle finder', () => {
  it('finds every strongly connected group, self-imports included', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['d.ts']],
      ['e.ts', ['a.ts']],
    ]);
    expect(importCycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['d.ts']]);
  });

  it('counts imports tsc keeps and leaves out the ones it erases', () => {
    const dir = mkdtempSync(join(tmpdir(), 'import-graph-'));
    try {
      const files: Record<string, string> = {
        'a.ts': "import type { B } from './b.js';\nimport { type C } from './c.js';\nexport const a = 1;\n",
        'b.ts': "import { a } from './a.js';\nexport type B = number;\nexport const b = a;\n",
        'c.ts': "export type { B } from './b.js';\nexport type C = string;\n",
        'd.ts': "import { type C, c2 } from './e.js';\nexport { a } from './a.js';\n",
        'e.ts': "import './d.js';\nexport type C = 1;\nexport const c2 = 2;\n",
      };
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      const graph = runtimeImportGraph(dir);
      expect(Object.fromEntries(graph)).toEqual({
        'a.ts': [],
        'b.ts': ['a.ts'],
        'c.ts': [],
        'd.ts': ['e.ts', 'a.ts'],
        'e.ts': ['d.ts'],
      });
      expect(importCycles(graph)).toEqual([['d.ts', 'e.ts']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
