/**
 * Masking rules compiled from the policy file's `masking` section (schema.ts): topic patterns,
 * selectors and functions built once per policy generation, keys read (from the environment
 * where the file says so), and every problem reported at load time with the rule's name, so a
 * policy whose masks cannot work is refused as a whole and the previous one stays.
 */
import { compilePattern, type NamePattern } from '../policy/patterns.js';
import { maskFunction, type MaskFunction, type MaskingKey, type MaskSpec } from './functions.js';
import type { MaskingDocument, MaskingRuleDocument } from './schema.js';
import { parseSelector, type Selector } from './selectors.js';

/** Who a rule is about: the roles, groups and principal names of the reader. */
export interface Reader {
  readonly name: string;
  readonly groups: readonly string[];
  readonly roles: readonly string[];
}

interface Who {
  roles: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  principals: ReadonlySet<string>;
}

export interface MaskingRule {
  readonly name: string;
  readonly topics: readonly NamePattern[];
  /** What of a record: its value, its key, or the values of headers of one name (`header:<name>`). */
  readonly part: 'value' | 'key' | `header:${string}`;
  readonly fields: ReadonlyArray<{ selector: Selector; fn: MaskFunction }>;
  readonly onError: 'pass' | 'withhold';
  /** Whether the rule masks what `reader` reads. */
  appliesTo(reader: Reader): boolean;
}

const whoOf = (w: { roles: string[]; groups: string[]; principals: string[] }): Who => ({ roles: new Set(w.roles), groups: new Set(w.groups), principals: new Set(w.principals) });
const isIn = (who: Who, r: Reader): boolean => r.roles.some((x) => who.roles.has(x)) || r.groups.some((g) => who.groups.has(g)) || who.principals.has(r.name);

export class MaskingRules {
  constructor(readonly rules: readonly MaskingRule[]) {}

  static readonly NONE = new MaskingRules([]);

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The rules that mask `topic` for `reader`, in file order. */
  forTopic(topic: string, reader: Reader): MaskingRule[] {
    return this.rules.filter((r) => r.topics.some((p) => p.matches(topic)) && r.appliesTo(reader));
  }

  /** Whether any rule could mask `topic` for some reader (to hold Fetch answers only where needed). */
  mayMask(topic: string): boolean {
    return this.rules.some((r) => r.topics.some((p) => p.matches(topic)));
  }
}

/** Compiles the section; throws one Error listing every problem, each naming its rule. */
export function compileMasking(doc: MaskingDocument | undefined, env: NodeJS.ProcessEnv = process.env): MaskingRules {
  if (!doc || (doc.rules.length === 0 && Object.keys(doc.keys).length === 0)) return MaskingRules.NONE;
  const problems: string[] = [];
  const keys = new Map<string, MaskingKey>();
  for (const [id, k] of Object.entries(doc.keys)) {
    const secret = 'secret' in k ? k.secret : env[k.env];
    if (!secret) problems.push(`masking key ${id}: environment variable ${'env' in k ? k.env : ''} is not set`);
    else if (secret.length < 16) problems.push(`masking key ${id}: at least 16 characters are needed`);
    else keys.set(id, { id, secret: Buffer.from(secret, 'utf8') });
  }
  const rules: MaskingRule[] = [];
  for (const r of doc.rules) {
    try {
      rules.push(compileRule(r, keys));
    } catch (err) {
      problems.push(`masking rule ${r.name}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return new MaskingRules(rules);
}

function compileRule(r: MaskingRuleDocument, keys: ReadonlyMap<string, MaskingKey>): MaskingRule {
  let spec: MaskSpec;
  if (r.mask.fn === 'token' || r.mask.fn === 'formatPreserving') {
    const key = keys.get(r.mask.key);
    if (!key) throw new Error(`key ${r.mask.key} is not among masking.keys`);
    spec = { fn: r.mask.fn, key };
  } else {
    spec = r.mask;
  }
  const fn = maskFunction(spec);
  const fields = r.fields.map((f) => ({ selector: parseSelector(f), fn }));
  const exempt = r.exempt ? whoOf(r.exempt) : null;
  const only = r.only ? whoOf(r.only) : null;
  return {
    name: r.name,
    topics: r.topics.map((t) => compilePattern(t)),
    part: r.part as MaskingRule['part'],
    fields,
    onError: r.onError,
    appliesTo: (reader) => (only ? isIn(only, reader) : !(exempt && isIn(exempt, reader))),
  };
}
