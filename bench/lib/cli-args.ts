// Option parsers shared by the scenario commands: each rejects bad input with a message naming
// the option and the accepted range (commander prints it and exits; nothing crashes).
import { relative } from 'node:path';
import { InvalidArgumentError, Option } from 'commander';

export function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

export function numberOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
}

/** The option `flags` ("--name <value>") parsed by `parse(name)`, with `fallback` (shown in --help) if given. */
function rangeFlag(
  parse: (name: string) => (value: string) => number,
  flags: string,
  description: string,
  fallback?: number,
): Option {
  const option = new Option(flags, description).argParser(parse(flags.split(' ')[0] ?? flags));
  return fallback === undefined ? option : option.default(fallback);
}

/** An option taking an integer from min to max; errors name the option. */
export function intFlag(flags: string, description: string, min: number, max: number, fallback?: number) {
  return rangeFlag((name) => intOption(name, min, max), flags, description, fallback);
}

/** An option taking a number from min to max; errors name the option. */
export function numberFlag(flags: string, description: string, min: number, max: number, fallback?: number) {
  return rangeFlag((name) => numberOption(name, min, max), flags, description, fallback);
}

/** The non-empty items of a comma-separated list; none is an error. */
function listItems(name: string, value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError(`${name}: no values given`);
  return items;
}

/** "0,100,1000" -> [0, 100, 1000]: distinct integers in [min, max], in the given order. */
export function intListOption(name: string, min: number, max: number) {
  return (value: string): number[] => {
    const out: number[] = [];
    for (const item of listItems(name, value)) {
      const n = Number(item);
      if (!Number.isInteger(n) || n < min || n > max)
        throw new InvalidArgumentError(`${name}: values are integers from ${min} to ${max}, got "${item}"`);
      if (!out.includes(n)) out.push(n);
    }
    return out;
  };
}

/** "a,b" -> ["a", "b"], each one of `allowed`. */
export function choiceListOption<T extends string>(name: string, allowed: readonly T[]) {
  return (value: string): T[] => {
    const items = listItems(name, value);
    for (const item of items) {
      if (!(allowed as readonly string[]).includes(item))
        throw new InvalidArgumentError(
          `${name}: unknown value "${item}" (choose from ${allowed.join(', ')})`,
        );
    }
    return [...new Set(items)] as T[];
  };
}

export function choiceOption<T extends string>(name: string, allowed: readonly T[]) {
  const list = choiceListOption(name, allowed);
  return (value: string): T => {
    const items = list(value);
    if (items.length !== 1) throw new InvalidArgumentError(`${name}: give one of ${allowed.join(', ')}`);
    return items[0] as T;
  };
}

/** The command line as the user typed it, for the report. */
export function commandLine(): string {
  const script = process.argv[1] ? relative(process.cwd(), process.argv[1]) : 'dist/bench/main.js';
  return ['node', script, ...process.argv.slice(2)].join(' ');
}

/** A JSON object (e.g. a config fragment to merge). */
export function jsonObjectOption(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError('expected a JSON object');
  return parsed as Record<string, unknown>;
}
