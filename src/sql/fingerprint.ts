// The fingerprint tokenizer: one pass over the text that replaces literals with `?` (keeping
// their values and offsets), drops comments (collecting `shardgate:` hints), folds whitespace and
// keyword case, and counts statements. Equal shapes get equal fingerprints, so the analysis of a
// shape is parsed once and cached. It never throws: unterminated input ends the token.

export interface Literal {
  /** Decoded value (quotes and escapes resolved); numbers as written. */
  value: string;
  /** Offset of the literal's first character in the original text (the quote or the digit). */
  offset: number;
  kind: 'string' | 'number';
}

export interface Fingerprint {
  text: string;
  literals: Literal[];
  /** Raw text of `shardgate:` hint comments, in order. */
  hintComments: string[];
  /** Highest `$n` seen. */
  maxParam: number;
}

enum C {
  Quote = 39, // '
  DQuote = 34, // "
  Dollar = 36, // $
  Dash = 45, // -
  Slash = 47, // /
  Star = 42, // *
  Backslash = 92,
  Dot = 46,
  Zero = 48,
  Nine = 57,
}

function isDigit(c: number): boolean {
  return c >= C.Zero && c <= C.Nine;
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128;
}

function isIdentChar(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === C.Dollar;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12;
}

/** Reads a standard single-quoted string starting at the quote; returns [value, end]. */
function readQuoted(sql: string, start: number, backslashEscapes: boolean): [string, number] {
  let out = '';
  let i = start + 1;
  const n = sql.length;
  let chunkStart = i;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === C.Quote) {
      if (sql.charCodeAt(i + 1) === C.Quote) {
        out += sql.slice(chunkStart, i + 1);
        i += 2;
        chunkStart = i;
        continue;
      }
      out += sql.slice(chunkStart, i);
      return [out, i + 1];
    }
    if (backslashEscapes && c === C.Backslash && i + 1 < n) {
      out += sql.slice(chunkStart, i);
      const e = sql[i + 1]!;
      out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === 'b' ? '\b' : e === 'f' ? '\f' : e;
      i += 2;
      chunkStart = i;
      continue;
    }
    i++;
  }
  return [out + sql.slice(chunkStart), n];
}

export function fingerprint(sql: string): Fingerprint {
  const n = sql.length;
  const literals: Literal[] = [];
  const hintComments: string[] = [];
  let out = '';
  let maxParam = 0;
  let i = 0;
  let pendingSpace = false;
  const emit = (s: string) => {
    if (pendingSpace && out.length > 0) out += ' ';
    pendingSpace = false;
    out += s;
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      pendingSpace = true;
      i++;
      continue;
    }
    // -- comment
    if (c === C.Dash && sql.charCodeAt(i + 1) === C.Dash) {
      const nl = sql.indexOf('\n', i);
      const end = nl < 0 ? n : nl;
      const body = sql.slice(i + 2, end).trim();
      if (body.startsWith('shardgate:')) hintComments.push(body);
      i = end;
      pendingSpace = true;
      continue;
    }
    // /* nested */ comment
    if (c === C.Slash && sql.charCodeAt(i + 1) === C.Star) {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql.charCodeAt(j) === C.Slash && sql.charCodeAt(j + 1) === C.Star) {
          depth++;
          j += 2;
        } else if (sql.charCodeAt(j) === C.Star && sql.charCodeAt(j + 1) === C.Slash) {
          depth--;
          j += 2;
        } else j++;
      }
      const body = sql.slice(i + 2, depth === 0 ? j - 2 : n).trim();
      if (body.startsWith('shardgate:')) hintComments.push(body);
      i = j;
      pendingSpace = true;
      continue;
    }
    // strings: '...', E'...', B'...', X'...', U&'...', N'...'
    if (c === C.Quote) {
      const [value, end] = readQuoted(sql, i, false);
      literals.push({ value, offset: i, kind: 'string' });
      emit('?');
      i = end;
      continue;
    }
    if ((c === 69 || c === 101) && sql.charCodeAt(i + 1) === C.Quote) {
      const [value, end] = readQuoted(sql, i + 1, true);
      literals.push({ value, offset: i, kind: 'string' });
      emit('?');
      i = end;
      continue;
    }
    if (
      (c === 66 || c === 98 || c === 88 || c === 120 || c === 78 || c === 110) &&
      sql.charCodeAt(i + 1) === C.Quote
    ) {
      const [value, end] = readQuoted(sql, i + 1, false);
      literals.push({ value, offset: i, kind: 'string' });
      emit('?');
      i = end;
      continue;
    }
    if ((c === 85 || c === 117) && sql.charCodeAt(i + 1) === 38 && sql.charCodeAt(i + 2) === C.Quote) {
      const [value, end] = readQuoted(sql, i + 2, false);
      literals.push({ value, offset: i, kind: 'string' });
      emit('?');
      i = end;
      continue;
    }
    // quoted identifier: kept verbatim (case matters)
    if (c === C.DQuote) {
      let j = i + 1;
      while (j < n) {
        if (sql.charCodeAt(j) === C.DQuote) {
          if (sql.charCodeAt(j + 1) === C.DQuote) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      emit(sql.slice(i, Math.min(j + 1, n)));
      i = j + 1;
      continue;
    }
    if (c === C.Dollar) {
      // $n parameter
      if (isDigit(sql.charCodeAt(i + 1))) {
        let j = i + 1;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        const num = Number(sql.slice(i + 1, j));
        if (num > maxParam) maxParam = num;
        emit(sql.slice(i, j));
        i = j;
        continue;
      }
      // $tag$ ... $tag$ dollar quote
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j)) && sql.charCodeAt(j) !== C.Dollar) j++;
      if (sql.charCodeAt(j) === C.Dollar) {
        const tag = sql.slice(i, j + 1);
        const close = sql.indexOf(tag, j + 1);
        const end = close < 0 ? n : close;
        literals.push({ value: sql.slice(j + 1, end), offset: i, kind: 'string' });
        emit('?');
        i = close < 0 ? n : close + tag.length;
        continue;
      }
      emit('$');
      i++;
      continue;
    }
    // numbers (a leading dot too): 42, 4.2, .5, 1e10, 0x1F
    if (isDigit(c) || (c === C.Dot && isDigit(sql.charCodeAt(i + 1)))) {
      let j = i;
      if (c === C.Zero && (sql.charCodeAt(i + 1) | 32) === 120) {
        j = i + 2;
        while (j < n && /[0-9a-fA-F_]/.test(sql[j]!)) j++;
      } else {
        while (j < n && (isDigit(sql.charCodeAt(j)) || sql.charCodeAt(j) === 95)) j++;
        if (sql.charCodeAt(j) === C.Dot && sql.charCodeAt(j + 1) !== C.Dot) {
          j++;
          while (j < n && isDigit(sql.charCodeAt(j))) j++;
        }
        if ((sql.charCodeAt(j) | 32) === 101) {
          let k = j + 1;
          if (sql[k] === '+' || sql[k] === '-') k++;
          if (isDigit(sql.charCodeAt(k))) {
            j = k;
            while (j < n && isDigit(sql.charCodeAt(j))) j++;
          }
        }
      }
      literals.push({ value: sql.slice(i, j), offset: i, kind: 'number' });
      emit('?');
      i = j;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j))) j++;
      emit(sql.slice(i, j).toLowerCase());
      i = j;
      continue;
    }
    // operators and punctuation, one character at a time
    emit(sql[i]!);
    i++;
  }
  return { text: out, literals, hintComments, maxParam };
}
