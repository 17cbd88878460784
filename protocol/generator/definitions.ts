/**
 * Reads Apache Kafka's message definitions (common/message/*.json from the kafka-clients jar)
 * into plain objects. The files are JSON with `//` line comments.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface RawField {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  flexibleVersions?: string;
  default?: string | number | boolean;
  ignorable?: boolean;
  about?: string;
  fields?: RawField[];
}

export interface RawStruct {
  name: string;
  versions: string;
  fields: RawField[];
}

export interface RawMessage {
  apiKey?: number;
  type: 'request' | 'response' | 'header' | 'data' | 'metadata';
  name: string;
  listeners?: string[];
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
  fields: RawField[];
  commonStructs?: RawStruct[];
}

export function parseDefinition(text: string): RawMessage {
  const stripped = text
    .split('\n')
    .map((line) => (/^\s*\/\//.test(line) ? '' : line))
    .join('\n');
  return JSON.parse(stripped) as RawMessage;
}

export function loadDefinitions(dir: string): Map<string, RawMessage> {
  const out = new Map<string, RawMessage>();
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.json')) continue;
    const msg = parseDefinition(readFileSync(join(dir, file), 'utf8'));
    out.set(msg.name, msg);
  }
  return out;
}

/** The versions of `spec` ("3+", "0-12", "5", "none") that fall in [lo, hi]. */
export function versionsIn(spec: string | undefined, lo: number, hi: number): Set<number> {
  const set = new Set<number>();
  if (spec === undefined || spec === 'none' || spec === '') return set;
  let a: number;
  let b: number;
  if (spec.endsWith('+')) {
    a = Number(spec.slice(0, -1));
    b = Number.MAX_SAFE_INTEGER;
  } else if (spec.includes('-')) {
    const [x, y] = spec.split('-');
    a = Number(x);
    b = Number(y);
  } else {
    a = b = Number(spec);
  }
  if (!Number.isInteger(a) || Number.isNaN(b)) throw new Error(`bad version spec ${JSON.stringify(spec)}`);
  for (let v = Math.max(a, lo); v <= Math.min(b, hi); v++) set.add(v);
  return set;
}

/** [lo, hi] of a message's validVersions, leaving out an unstable latest version. */
export function validWindow(msg: RawMessage): [number, number] | null {
  const set = versionsIn(msg.validVersions, 0, 1000);
  if (set.size === 0) return null;
  let lo = Math.min(...set);
  let hi = Math.max(...set);
  if (msg.latestVersionUnstable) hi -= 1;
  return hi < lo ? null : [lo, hi];
}
