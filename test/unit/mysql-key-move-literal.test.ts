// The key value in the move's DELETE: bare only for an integer column, else text, so a text key
// '007' is compared as the string '007' (never as the number 7, which '7' and '07' equal too).
import { describe, expect, it } from 'vitest';
import { literal } from '../../src/protocol/mysql/key-move-runner.js';

describe('key-move literal', () => {
  it('an integer column keeps an integer value bare', () => {
    expect(literal('42', true)).toBe('42');
    expect(literal('-7', true)).toBe('-7');
  });

  it('a text column gets an all-digit value as text', () => {
    expect(literal('007', false)).toBe(`CONVERT(X'303037' USING utf8mb4)`);
  });

  it('a non-integer value is text even for an integer column', () => {
    expect(literal('1.5', true)).toBe(`CONVERT(X'312e35' USING utf8mb4)`);
  });
});
