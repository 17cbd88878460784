import { ProtocolError } from './errors.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

/** Kafka's all-zero Uuid in its string form. */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
export const EMPTY_BYTES: Buffer = Buffer.alloc(0);
export const NO_TAGS: Array<[number, (w: Writer) => void]> = [];

/** The tagged-field callback of a struct that knows no tags. */
export function noTags(): boolean {
  return false;
}

export function readArray<T>(r: Reader, compact: boolean, nullable: boolean, elem: (r: Reader) => T): T[] {
  const n = r.arrayLength(compact, nullable);
  if (n < 0) return null as unknown as T[];
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = elem(r);
  return out;
}

export function writeArray<T>(
  w: Writer,
  arr: T[] | null,
  compact: boolean,
  nullable: boolean,
  name: string,
  elem: (w: Writer, e: T) => void,
): void {
  if (arr === null && !nullable) {
    throw new ProtocolError('GH_PROTOCOL_INVALID', `${name} is null in a version where it cannot be`);
  }
  w.arrayLength(arr === null ? null : arr.length, compact);
  if (arr) for (const e of arr) elem(w, e);
}

/** A value that may be null in some versions, checked where the version forbids null. */
export function req<T>(x: T | null, name: string): T {
  if (x === null) throw new ProtocolError('GH_PROTOCOL_INVALID', `${name} is null in a version where it cannot be`);
  return x;
}

/** Structural equality over the values codecs produce: primitives, bigint, Buffer, arrays, objects. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
