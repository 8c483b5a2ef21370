// Exact decimals for merging numeric partials: a BigInt of units and a scale (digits after the
// point), as PostgreSQL's numeric keeps them. Division and square root follow numeric.c's
// result-scale rules (select_div_scale, round half away from zero), so a merged avg or stddev
// prints exactly what one database would print. No floating point anywhere.

export interface Decimal {
  units: bigint;
  scale: number;
}

const TEN = 10n;

export function parseDecimal(text: string): Decimal {
  const t = text.trim();
  const m = /^([-+]?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new RangeError(`not a decimal: ${text}`);
  const frac = m[3] ?? '';
  const units = BigInt(`${m[2] || '0'}${frac}`);
  return { units: m[1] === '-' ? -units : units, scale: frac.length };
}

export function formatDecimal(d: Decimal): string {
  const neg = d.units < 0n;
  let digits = (neg ? -d.units : d.units).toString();
  if (d.scale > 0) {
    digits = digits.padStart(d.scale + 1, '0');
    digits = `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`;
  }
  return neg ? `-${digits}` : digits;
}

/** The same value at a larger scale (never used to drop digits). */
export function rescale(d: Decimal, scale: number): Decimal {
  return scale <= d.scale ? d : { units: d.units * TEN ** BigInt(scale - d.scale), scale };
}

export function addDecimals(a: Decimal, b: Decimal): Decimal {
  const s = Math.max(a.scale, b.scale);
  return { units: rescale(a, s).units + rescale(b, s).units, scale: s };
}

export function subDecimals(a: Decimal, b: Decimal): Decimal {
  return addDecimals(a, { units: -b.units, scale: b.scale });
}

/** Exact product (scale = sum of scales, as numeric's mul keeps every digit). */
export function mulDecimals(a: Decimal, b: Decimal): Decimal {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

export function compareDecimals(a: Decimal, b: Decimal): number {
  const s = Math.max(a.scale, b.scale);
  const x = rescale(a, s).units;
  const y = rescale(b, s).units;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Rounds half away from zero to `scale` digits (or pads to it). */
export function roundDecimal(d: Decimal, scale: number): Decimal {
  if (scale >= d.scale) return rescale(d, scale);
  const div = TEN ** BigInt(d.scale - scale);
  const neg = d.units < 0n;
  const abs = neg ? -d.units : d.units;
  let q = abs / div;
  if ((abs % div) * 2n >= div) q += 1n;
  return { units: neg ? -q : q, scale };
}

/** Weight and first digit in numeric's base-10000 digits of |d|, as numeric.c normalizes them. */
function baseTenThousand(d: Decimal): { weight: number; first: number } {
  const abs = d.units < 0n ? -d.units : d.units;
  if (abs === 0n) return { weight: 0, first: 0 };
  // Decimal exponent of the most significant digit; groups of 4 are aligned on the point.
  const weight = Math.floor((abs.toString().length - d.scale - 1) / 4);
  const shift = d.scale + weight * 4; // |d| / 10000^weight = abs / 10^shift
  const group = shift >= 0 ? abs / TEN ** BigInt(shift) : abs * TEN ** BigInt(-shift);
  return { weight, first: Number(group % 10000n) };
}

/** numeric.c select_div_scale: the result scale of a / b. */
export function divisionScale(a: Decimal, b: Decimal): number {
  const x = baseTenThousand(a);
  const y = baseTenThousand(b);
  let qweight = x.weight - y.weight;
  if (x.first <= y.first) qweight--;
  let rscale = 16 - qweight * 4;
  rscale = Math.max(rscale, a.scale, b.scale, 0);
  return Math.min(rscale, 1000);
}

/** a / b at `scale` digits, rounded half away from zero; b must not be zero. */
export function divDecimals(a: Decimal, b: Decimal, scale = divisionScale(a, b)): Decimal {
  if (b.units === 0n) throw new RangeError('division by zero');
  // a.units/10^a.scale / (b.units/10^b.scale) * 10^(scale+1), truncated, then rounded.
  const num = a.units * TEN ** BigInt(b.scale + scale + 1);
  const den = b.units * TEN ** BigInt(a.scale);
  const q = num / den; // truncates toward zero
  const neg = q < 0n;
  const abs = neg ? -q : q;
  const rounded = (abs + 5n) / TEN;
  return { units: neg ? -rounded : rounded, scale };
}

/** Square root at `scale` digits, rounded to nearest; d must not be negative. */
export function sqrtDecimal(d: Decimal, scale: number): Decimal {
  if (d.units < 0n) throw new RangeError('square root of a negative number');
  // sqrt(units / 10^s) * 10^scale = sqrt(units * 10^(2*scale - s)); keep the radicand integral.
  let radicand = d.units;
  const exp = 2 * scale - d.scale;
  if (exp >= 0) radicand *= TEN ** BigInt(exp);
  else radicand /= TEN ** BigInt(-exp);
  let r = isqrt(radicand);
  // Round to nearest: r+1 when radicand >= (r + 1/2)^2.
  if (4n * radicand >= (2n * r + 1n) ** 2n) r += 1n;
  return { units: r, scale };
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  // Newton steps from a float estimate, then fix the last unit.
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  while (x * x > n) x -= 1n;
  while ((x + 1n) * (x + 1n) <= n) x += 1n;
  return x;
}
