// SASLprep (RFC 4013) of a password, the way PostgreSQL's pg_saslprep() uses it for SCRAM:
// - pure ASCII passwords are used unchanged (PostgreSQL does exactly this, control characters
//   included);
// - otherwise: non-ASCII spaces (RFC 3454 C.1.2) become U+0020, "commonly mapped to nothing"
//   characters (B.1) are removed, then NFKC normalization;
// - if the result contains a prohibited character (controls, private use, non-characters,
//   surrogates, tagging and other C.* tables, or unassigned code points) PostgreSQL falls back to
//   the raw password, and so do we.
// Difference from PostgreSQL: the RFC 3454 bidi rule (mixed right-to-left text) is not checked, and
// "unassigned" follows the JavaScript engine's Unicode version rather than Unicode 3.2. Both only
// matter for exotic passwords; the pg driver's client is more lenient still (it never falls back).

const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
// biome-ignore lint/suspicious/noMisleadingCharacterClass: B.1 lists combining and joiner characters on purpose
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
const PROHIBITED =
  /[\p{Cc}\p{Co}\p{Cs}\p{Cn}\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000\u06DD\u070F\u180E\u200C-\u200F\u2028-\u202E\u2060-\u2063\u206A-\u206F\uFEFF\uFFF9-\uFFFD\u{1D173}-\u{1D17A}\u{E0001}\u{E0020}-\u{E007F}]/u;

const ASCII = /^[\x00-\x7f]*$/;

export function saslprep(password: string): string {
  if (ASCII.test(password)) return password;
  const mapped = password.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
  if (PROHIBITED.test(mapped)) return password;
  return mapped;
}
