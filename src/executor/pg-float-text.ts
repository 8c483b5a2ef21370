// float4 / float8 values as PostgreSQL prints them (extra_float_digits = 1, the default since
// PostgreSQL 12): the shortest text that reads back to the same value, in fixed notation for
// decimal exponents in [-4, 15) (float8) or [-4, 6) (float4), else d.ddde+XX.

function layout(digits: string, exp10: number, fixedMax: number): string {
  // digits: significant digits without sign or point; value = 0.d1d2... * 10^(exp10 + 1)
  if (exp10 < -4 || exp10 >= fixedMax) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp10);
    return `${mantissa}e${exp10 < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  }
  if (exp10 < 0) return `0.${'0'.repeat(-exp10 - 1)}${digits}`;
  if (digits.length <= exp10 + 1) return digits + '0'.repeat(exp10 + 1 - digits.length);
  return `${digits.slice(0, exp10 + 1)}.${digits.slice(exp10 + 1)}`;
}

function format(value: number, precision: number | null, fixedMax: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const abs = Math.abs(value);
  const exp = (precision === null ? abs.toExponential() : abs.toExponential(precision - 1)).split('e');
  const digits = exp[0]!.replace('.', '').replace(/0+$/, '') || '0';
  const text = layout(digits, Number(exp[1]), fixedMax);
  return value < 0 ? `-${text}` : text;
}

export function float8Text(value: number): string {
  return format(value, null, 15);
}

/** A float4 value (already rounded with Math.fround) printed with the fewest digits. */
export function float4Text(value: number): string {
  const v = Math.fround(value);
  if (!Number.isFinite(v) || v === 0) return format(v, null, 6);
  for (let p = 1; p <= 9; p++) {
    if (Math.fround(Number(Math.abs(v).toPrecision(p))) === Math.abs(v)) return format(v, p, 6);
  }
  return format(v, 9, 6);
}
