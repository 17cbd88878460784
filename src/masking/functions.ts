/**
 * The masking functions (issue 12), on decoded values: what a rule does to each field its
 * selectors reach. Pure and deterministic: equal inputs give equal outputs, so a masked topic
 * can still be joined and counted on a tokenised field.
 *
 *  - redact: a fixed text (strings), the type's zero (numbers 0, booleans false);
 *  - nullify: null;
 *  - drop: the field is removed (DROP);
 *  - keepLast / keepFirst: all but the last / first n characters replaced by a mask character;
 *  - token: a keyed HMAC-SHA-256 of the value, `tok_<keyId>_<22 base64url characters>`: equal
 *    for equal values under one key, unrelated across keys; the key id names the key so keys
 *    can rotate;
 *  - formatPreserving: each digit replaced by a digit derived from the key and the whole value,
 *    everything else (length, separators, letters) kept: `4111-1111-1111-1234` stays a
 *    19-character dash-separated number;
 *  - regex: a regular-expression replacement on strings (other values pass unchanged).
 *
 * Wiring to records (selectors, formats, the wire) lives beside this file; keys come from the
 * policy (a literal or an environment variable), never from clients.
 */
import { createHmac } from 'node:crypto';

/** Returned by a function that removes the field. */
export const DROP: unique symbol = Symbol('drop field');
export type Masked = unknown | typeof DROP;

/** A masking key: the secret and the id written into tokens (so tokens of rotated keys stay apart). */
export interface MaskingKey {
  readonly id: string;
  readonly secret: Buffer;
}

export type MaskSpec =
  | { fn: 'redact'; text?: string }
  | { fn: 'nullify' }
  | { fn: 'drop' }
  | { fn: 'keepLast'; n: number; char?: string }
  | { fn: 'keepFirst'; n: number; char?: string }
  | { fn: 'token'; key: MaskingKey }
  | { fn: 'formatPreserving'; key: MaskingKey }
  | { fn: 'regex'; pattern: string; flags?: string; replacement: string };

export type MaskFunction = (value: unknown) => Masked;

const DEFAULT_TEXT = '****';
const DEFAULT_CHAR = '*';

/** A value as text for the functions that work on characters: strings as they are, numbers and booleans printed, anything else as JSON. */
function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? '';
}

/** All but `keep` characters (code points, not UTF-16 units) replaced by `char`, from the end or the start. */
function keepChars(value: unknown, keep: number, char: string, fromEnd: boolean): unknown {
  if (value === null || value === undefined) return value;
  const chars = [...asText(value)];
  const n = Math.min(Math.max(0, keep), chars.length);
  const hidden = chars.length - n;
  return fromEnd ? char.repeat(hidden) + chars.slice(hidden).join('') : chars.slice(0, n).join('') + char.repeat(hidden);
}

/** HMAC-SHA-256 of a value's canonical text (type-tagged, so 1 and "1" differ). */
function mac(key: MaskingKey, value: unknown): Buffer {
  return createHmac('sha256', key.secret).update(`${typeof value}:${asText(value)}`).digest();
}

function token(key: MaskingKey, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  return `tok_${key.id}_${mac(key, value).subarray(0, 16).toString('base64url')}`;
}

/** Digits from a keyed stream over the whole value; anything but ASCII digits kept. */
function formatPreserving(key: MaskingKey, value: unknown): unknown {
  if (value === null || value === undefined || typeof value === 'boolean') return value;
  const text = asText(value);
  let stream = mac(key, value);
  let used = 0;
  let counter = 0;
  const nextDigit = (): string => {
    // Bytes below 250 map evenly onto 0-9; the stream is extended with HMAC(previous || counter).
    for (;;) {
      if (used >= stream.length) {
        stream = createHmac('sha256', key.secret).update(stream).update(String(++counter)).digest();
        used = 0;
      }
      const b = stream[used++]!;
      if (b < 250) return String(b % 10);
    }
  };
  let out = '';
  for (const ch of text) out += ch >= '0' && ch <= '9' ? nextDigit() : ch;
  if (typeof value === 'number') {
    // A number stays a number of the same shape where it can (no leading zero turning it into a string).
    const n = Number(out);
    return Number.isFinite(n) && String(n) === out ? n : out;
  }
  return out;
}

/** Builds a rule's function; throws with the reason for a spec it cannot honour (a bad regex, a negative n). */
export function maskFunction(spec: MaskSpec): MaskFunction {
  switch (spec.fn) {
    case 'redact': {
      const text = spec.text ?? DEFAULT_TEXT;
      return (v) => (typeof v === 'number' ? 0 : typeof v === 'boolean' ? false : v === null ? null : text);
    }
    case 'nullify':
      return () => null;
    case 'drop':
      return () => DROP;
    case 'keepLast':
    case 'keepFirst': {
      if (!Number.isInteger(spec.n) || spec.n < 0) throw new RangeError(`${spec.fn}: n must be a whole number >= 0, not ${spec.n}`);
      const char = spec.char ?? DEFAULT_CHAR;
      if ([...char].length !== 1) throw new RangeError(`${spec.fn}: char must be one character, not ${JSON.stringify(char)}`);
      return (v) => keepChars(v, spec.n, char, spec.fn === 'keepLast');
    }
    case 'token':
      return (v) => token(spec.key, v);
    case 'formatPreserving':
      return (v) => formatPreserving(spec.key, v);
    case 'regex': {
      let re: RegExp;
      try {
        re = new RegExp(spec.pattern, spec.flags ?? 'g');
      } catch (err) {
        throw new RangeError(`regex: ${(err as Error).message}`);
      }
      return (v) => (typeof v === 'string' ? v.replace(re, spec.replacement) : v);
    }
  }
}
