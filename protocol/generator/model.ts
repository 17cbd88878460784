/**
 * The generator's model of a message: every field carries the exact set of message versions in
 * which it is present, nullable, tagged and flexible. Version sets (rather than the JSON's range
 * strings) let two definitions — Kafka 3.9 for the old versions that 4.0 deleted, Kafka 4.x for
 * the rest — merge into one codec per API.
 */
import { type RawField, type RawMessage, type RawStruct, versionsIn, validWindow } from './definitions.js';

export type FieldType =
  | { kind: 'prim'; name: PrimName }
  | { kind: 'array'; elem: FieldType }
  | { kind: 'struct'; name: string; fields: Field[] };

export type PrimName =
  | 'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64'
  | 'string' | 'bytes' | 'uuid' | 'records';

const PRIMS = new Set<string>(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'uuid', 'records']);

export interface Field {
  name: string;
  type: FieldType;
  versions: Set<number>;
  nullable: Set<number>;
  tagged: Set<number>;
  tag: number | undefined;
  /** Versions in which this field uses the compact (flexible) encoding. */
  flexible: Set<number>;
  default: string | undefined;
  about: string | undefined;
}

export interface Message {
  name: string;
  apiKey: number | undefined;
  kind: 'request' | 'response' | 'header';
  versions: number[];
  flexible: Set<number>;
  fields: Field[];
}

function normalizeFields(
  raw: RawField[],
  use: Set<number>,
  flexible: Set<number>,
  common: Map<string, RawStruct>,
): Field[] {
  const lo = Math.min(...use, 1000);
  const hi = Math.max(...use, -1);
  const within = (spec: string | undefined) => new Set([...versionsIn(spec, lo, hi)].filter((v) => use.has(v)));
  return raw.map((f) => {
    const versions = within(f.versions);
    const fieldFlex = f.flexibleVersions !== undefined ? within(f.flexibleVersions) : flexible;
    return {
      name: f.name,
      type: normalizeType(f.type, f.fields, use, flexible, common),
      versions,
      nullable: within(f.nullableVersions),
      tagged: within(f.taggedVersions),
      tag: f.tag,
      flexible: new Set([...fieldFlex].filter((v) => versions.has(v))),
      default: f.default === undefined ? undefined : String(f.default),
      about: f.about,
    };
  });
}

function normalizeType(
  type: string,
  inline: RawField[] | undefined,
  use: Set<number>,
  flexible: Set<number>,
  common: Map<string, RawStruct>,
): FieldType {
  if (type.startsWith('[]')) {
    return { kind: 'array', elem: normalizeType(type.slice(2), inline, use, flexible, common) };
  }
  if (PRIMS.has(type)) return { kind: 'prim', name: type as PrimName };
  const fields = inline ?? common.get(type)?.fields;
  if (!fields) throw new Error(`unknown type ${type}`);
  return { kind: 'struct', name: type, fields: normalizeFields(fields, use, flexible, common) };
}

/** Normalizes one definition, restricted to the versions in `use`. */
export function normalize(msg: RawMessage, use: Set<number>): Message {
  const common = new Map((msg.commonStructs ?? []).map((s) => [s.name, s]));
  const lo = Math.min(...use);
  const hi = Math.max(...use);
  const flexible = new Set([...versionsIn(msg.flexibleVersions, lo, hi)].filter((v) => use.has(v)));
  return {
    name: msg.name,
    apiKey: msg.apiKey,
    kind: msg.type === 'header' ? 'header' : (msg.type as 'request' | 'response'),
    versions: [...use].sort((a, b) => a - b),
    flexible,
    fields: normalizeFields(msg.fields, use, flexible, common),
  };
}

function union(a: Set<number>, b: Set<number>): Set<number> {
  return new Set([...a, ...b]);
}

function typeKey(t: FieldType): string {
  return t.kind === 'prim' ? t.name : t.kind === 'array' ? `[]${typeKey(t.elem)}` : 'struct';
}

function mergeType(a: FieldType, b: FieldType, where: string): FieldType {
  if (typeKey(a) !== typeKey(b)) throw new Error(`${where}: type ${typeKey(a)} vs ${typeKey(b)}`);
  if (a.kind === 'array' && b.kind === 'array') return { kind: 'array', elem: mergeType(a.elem, b.elem, where) };
  if (a.kind === 'struct' && b.kind === 'struct') {
    return { kind: 'struct', name: b.name, fields: mergeFields(a.fields, b.fields, `${where}.${b.name}`) };
  }
  return b;
}

/**
 * Merges the old definition's fields (`a`, already restricted to the old versions) with the new
 * one's (`b`). A field in both keeps one entry whose version sets are the union; a field in only
 * one keeps its place relative to its neighbours.
 */
export function mergeFields(a: Field[], b: Field[], where: string): Field[] {
  const byName = new Map(a.map((f) => [f.name, f]));
  const inB = new Set(b.map((f) => f.name));
  const out: Field[] = [];
  let ai = 0;
  const flushA = (until: string | undefined) => {
    while (ai < a.length && a[ai]!.name !== until) {
      const f = a[ai++]!;
      if (!inB.has(f.name)) out.push(f);
      else throw new Error(`${where}: field ${f.name} is ordered differently in the two definitions`);
    }
  };
  for (const fb of b) {
    const fa = byName.get(fb.name);
    if (!fa) {
      out.push(fb);
      continue;
    }
    flushA(fb.name);
    ai++;
    if (fa.versions.size === 0) {
      out.push(fb);
      continue;
    }
    if (fa.tagged.size > 0 && fb.tagged.size > 0 && fa.tag !== fb.tag) throw new Error(`${where}.${fb.name}: tag differs`);
    out.push({
      ...fb,
      type: mergeType(fa.type, fb.type, `${where}.${fb.name}`),
      versions: union(fa.versions, fb.versions),
      nullable: union(fa.nullable, fb.nullable),
      tagged: union(fa.tagged, fb.tagged),
      tag: fb.tag ?? fa.tag,
      flexible: union(fa.flexible, fb.flexible),
      default: fb.default ?? fa.default,
      about: fb.about ?? fa.about,
    });
  }
  flushA(undefined);
  return out.filter((f) => f.versions.size > 0);
}

/**
 * One message from up to two definitions: `old` (Kafka 3.9) supplies the versions below the
 * newest definition's lowest version, `cur` (Kafka 4.x) supplies the rest.
 */
export function mergeMessage(old: RawMessage | undefined, cur: RawMessage | undefined): Message | null {
  const wc = cur ? validWindow(cur) : null;
  const wo = old ? validWindow(old) : null;
  const useCur = new Set<number>();
  const useOld = new Set<number>();
  if (wc) for (let v = wc[0]; v <= wc[1]; v++) useCur.add(v);
  if (wo) for (let v = wo[0]; v <= wo[1]; v++) if (!wc || v < wc[0]) useOld.add(v);
  if (useCur.size === 0 && useOld.size === 0) return null;
  if (useOld.size === 0) return normalize(cur!, useCur);
  if (useCur.size === 0) return normalize(old!, useOld);
  const a = normalize(old!, useOld);
  const b = normalize(cur!, useCur);
  return {
    name: b.name,
    apiKey: b.apiKey,
    kind: b.kind,
    versions: [...new Set([...a.versions, ...b.versions])].sort((x, y) => x - y),
    flexible: union(a.flexible, b.flexible),
    fields: mergeFields(a.fields, b.fields, b.name),
  };
}
