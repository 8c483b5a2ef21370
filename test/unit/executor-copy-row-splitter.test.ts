// The COPY FROM row splitter (src/executor/copy-row-splitter.ts): rows and their shard-key field
// as PostgreSQL reads text and CSV input, the same whatever byte boundaries the input arrives in.
import { describe, expect, it } from 'vitest';
import {
  CopyInputError,
  CopyRowSplitter,
  type CopyTextFormat,
  type KeyField,
  unescapeText,
} from '../../src/executor/copy-row-splitter.js';
import { copyLine } from '../../src/executor/copy-text-out.js';

const TEXT: CopyTextFormat = {
  csv: false,
  delimiter: 0x09,
  quote: 0x22,
  escape: 0x22,
  nullText: '\\N',
  defaultText: null,
  header: false,
  forceNullKey: false,
};
const CSV: CopyTextFormat = { ...TEXT, csv: true, delimiter: 0x2c, nullText: '' };

interface Split {
  header: string[];
  rows: Array<[string, KeyField]>;
}

/** Splits `input` fed in pieces cut at `cuts`. */
function split(format: CopyTextFormat, keyIndex: number, input: string, cuts: number[] = []): Split {
  const out: Split = { header: [], rows: [] };
  const s = new CopyRowSplitter(format, keyIndex, 1 << 20);
  const bytes = Buffer.from(input);
  const sink = {
    header: (row: Buffer) => out.header.push(row.toString()),
    row: (row: Buffer, key: KeyField) => out.rows.push([row.toString(), key]),
  };
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    s.push(Buffer.from(bytes.subarray(at, c)), sink);
    at = c;
  }
  s.end(sink);
  return out;
}

/** The same answer for every single cut point. */
function splitEverywhere(format: CopyTextFormat, keyIndex: number, input: string): Split {
  const whole = split(format, keyIndex, input);
  for (let i = 1; i < Buffer.byteLength(input); i++)
    expect(split(format, keyIndex, input, [i])).toEqual(whole);
  return whole;
}

const keys = (got: Split) => got.rows.map((r) => r[1]);
const v = (value: string): KeyField => ({ value });
const missing = (why: 'null' | 'absent' | 'default'): KeyField => ({ missing: why });

// The key field (column 1) of every row, and the second row's bytes as they go to its shard.
it.each([
  [
    'text: rows and the key field read through escapes',
    TEXT,
    'a\t7\tx\nb\\\tc\t8\n\\N\t\\x41\\102\\n\tz\nl\\\nm\t9\n',
    [v('7'), v('8'), v('AB\n'), v('9')],
    'b\\\tc\t8\n',
  ],
  [
    'CSV: delimiters and newlines inside quotes kept, doubled quotes literal',
    CSV,
    'a,"k,1",x\n"multi\nline","k""2"\n,,\nq,"",z\n',
    [v('k,1'), v('k"2'), missing('null'), v('')],
    '"multi\nline","k""2"\n',
  ],
])('%s, the same at every cut point', (_, format, input, want, second) => {
  const got = splitEverywhere(format, 1, input);
  expect(keys(got)).toEqual(want);
  expect(got.rows[1]![0]).toBe(second);
});

describe('text format', () => {
  it('tells NULL, a missing field and the DEFAULT marker apart', () => {
    const got = split({ ...TEXT, defaultText: 'D' }, 1, 'a\t\\N\nb\nc\tD\n');
    expect(keys(got)).toEqual([missing('null'), missing('absent'), missing('default')]);
  });

  it('takes \\r\\n line ends, stops at \\. and refuses a bare carriage return', () => {
    const got = splitEverywhere(TEXT, 0, '1\tx\r\n2\r\n\\.\r\n3\n');
    expect(keys(got)).toEqual([v('1'), v('2')]);
    expect(() => split(TEXT, 0, '1\r2\n')).toThrow(CopyInputError);
  });

  it('passes the header line on without reading a key from it', () => {
    const got = split({ ...TEXT, header: true }, 0, 'id\tname\n1\tx\n');
    expect(got.header).toEqual(['id\tname\n']);
    expect(got.rows).toEqual([['1\tx\n', v('1')]]);
  });

  it('resolves the escapes COPY knows', () => {
    expect(unescapeText([...Buffer.from('a\\tb\\\\c\\101\\x4a\\q')])).toBe('a\tb\\cAJq');
  });

  it('bounds the row in progress', () => {
    const s = new CopyRowSplitter(TEXT, 0, 8);
    expect(() => s.push(Buffer.from('0123456789'), { header: () => {}, row: () => {} })).toThrow(
      /longer than 8/,
    );
  });
});

describe('CSV format', () => {
  it('reads another escape character, NULL strings and FORCE_NULL', () => {
    const esc = { ...CSV, escape: 0x5c, nullText: 'NA' };
    const got = splitEverywhere(esc, 0, '"a\\"b",1\n"c\\\\d",2\n"e\\f",3\nNA,4\n"NA",5\n');
    expect(keys(got)).toEqual([v('a"b'), v('c\\d'), v('e\\f'), missing('null'), v('NA')]);
    expect(split({ ...esc, forceNullKey: true }, 0, '"NA",5\n').rows[0]![1]).toEqual(missing('null'));
  });

  it('refuses a quote left open at the end of the input', () => {
    expect(() => split(CSV, 0, '1,"open\n')).toThrow(/unterminated CSV/);
  });
});

describe('COPY TO lines (copy-text-out.ts) read back by the splitter', () => {
  const values = [
    'plain',
    'tab\there',
    'line\nend',
    'back\\slash',
    'comma,semi;',
    'quote"d',
    '',
    '\\.',
    'NA',
    'é ünï',
  ];
  for (const [name, format] of [
    ['text', TEXT],
    ['CSV', CSV],
    ['CSV with NULL NA and ESCAPE \\', { ...CSV, nullText: 'NA', escape: 0x5c }],
  ] as const) {
    it(`round-trips every value in ${name}`, () => {
      const input = values.map((x) => copyLine(['x', x, null], format)).join('');
      const got = split(format, 1, input);
      expect(keys(got)).toEqual(values.map((x) => v(x)));
      expect(split(format, 2, input).rows.every((r) => 'missing' in r[1] && r[1].missing === 'null')).toBe(
        true,
      );
    });
  }
});
