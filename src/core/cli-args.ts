/**
 * Parsers for flag values, given to commander (`Option.argParser`) so that a command receives a
 * number or one of its choices, never the text. A bad value is bad usage: exit 2, nothing run.
 */
import { UsageError } from './errors.js';

const WHOLE = /^\s*\d+\s*$/;

/** `--replicas 2`: a whole number from `min` (to `max`), refused with the flag's own message. */
export function wholeNumber(flag: string, range: { min: number; max?: number }, hint: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!WHOLE.test(v) || n < range.min || (range.max !== undefined && n > range.max))
      throw new UsageError(
        'E_USAGE',
        `${flag} must be a whole number ${range.max === undefined ? `>= ${range.min}` : `from ${range.min} to ${range.max}`}, not "${v}"`,
        {},
        { hint },
      );
    return n;
  };
}

/** `--interval 0.5`: seconds as a decimal number within a range. */
export function seconds(flag: string, range: { min: number; max: number }, hint: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < range.min || n > range.max)
      throw new UsageError(
        'E_USAGE',
        `${flag} must be a number of seconds from ${range.min} to ${range.max}, not "${v}"`,
        {},
        { hint },
      );
    return n;
  };
}

/** `--type diff`: one of a few words (commander lists them in the help through `choices`). */
export function oneOf<const T extends readonly string[]>(flag: string, values: T, hint: string) {
  return (v: string): T[number] => {
    if (!values.includes(v)) {
      const list = `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
      throw new UsageError('E_USAGE', `${flag} must be ${list}, not "${v}"`, {}, { hint });
    }
    return v;
  };
}
