// The ASCII character-class table both SQL lexers (fingerprint.ts, mysql/mysql-lexer.ts) read in
// their hot loops: one lookup answers space, digit, identifier start or operator character.
// Built once at load; each lexer keeps its own table (its dialect's identifier and operator sets).

/** Bits of a class table entry; a lexer may add its own above these. */
export const SPACE = 1;
export const DIGIT = 2;
export const IDENT_START = 4;
export const OP_CHAR = 8;

/** Spaces, digits, letters and `identStart` (besides letters), and `operators`, each with its bit. */
export function charClasses(identStart: string, operators: string): Uint8Array {
  const table = new Uint8Array(128);
  for (const c of ' \t\n\r\f\v') table[c.charCodeAt(0)] = SPACE;
  for (let c = 48; c <= 57; c++) table[c] = DIGIT;
  for (let c = 65; c <= 90; c++) table[c] = IDENT_START;
  for (let c = 97; c <= 122; c++) table[c] = IDENT_START;
  for (const c of identStart) table[c.charCodeAt(0)] = IDENT_START;
  for (const c of operators) table[c.charCodeAt(0)] = OP_CHAR;
  return table;
}
