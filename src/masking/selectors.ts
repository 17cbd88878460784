/**
 * Field selectors of masking rules (issue 12), a small subset of JSONPath:
 *
 *   card.number          a nested member            ($.card.number is the same)
 *   items[*].iban        every element of an array, then a member
 *   items[0].iban        one element
 *   $..email             `email` at any depth (recursive descent)
 *   card.*               every member of an object (and every element of an array)
 *   $                    the whole value
 *   ['odd.name']         a member whose name has dots or brackets
 *
 * `applySelector` walks a decoded JSON value and replaces every field a selector reaches with
 * what the masking function returns (DROP removes it). It changes the value in place and returns
 * the (possibly new) root with how many fields it reached.
 */
import { DROP, type MaskFunction } from './functions.js';

type Step = { kind: 'member'; name: string } | { kind: 'index'; index: number } | { kind: 'all' } | { kind: 'descend'; name: string | null };

export interface Selector {
  readonly text: string;
  readonly steps: readonly Step[];
}

const NAME = /^[A-Za-z_$][\w$-]*/;

/** Parses a selector; throws with the position and reason when it is not one. */
export function parseSelector(text: string): Selector {
  const steps: Step[] = [];
  let at = 0;
  const fail = (why: string): never => {
    throw new SyntaxError(`selector ${JSON.stringify(text)} at ${at}: ${why}`);
  };
  // `$` is the root; a selector that starts with a name means `$.name`.
  let src = text;
  if (src.startsWith('$')) src = src.slice(1);
  else if (src.length > 0 && !src.startsWith('[') && !src.startsWith('.')) src = `.${src}`;
  while (at < src.length) {
    if (src.startsWith('..', at)) {
      at += 2;
      if (src[at] === '*') {
        at++;
        steps.push({ kind: 'descend', name: null });
        continue;
      }
      const m = NAME.exec(src.slice(at)) ?? fail('a member name must follow ".."');
      steps.push({ kind: 'descend', name: m[0] });
      at += m[0].length;
    } else if (src[at] === '.') {
      at++;
      if (src[at] === '*') {
        at++;
        steps.push({ kind: 'all' });
        continue;
      }
      const m = NAME.exec(src.slice(at)) ?? fail('a member name must follow "."');
      steps.push({ kind: 'member', name: m[0] });
      at += m[0].length;
    } else if (src[at] === '[') {
      const close = src.indexOf(']', at);
      if (close < 0) fail('"[" without "]"');
      const inner = src.slice(at + 1, close).trim();
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'[^']*'$/.test(inner) || /^"[^"]*"$/.test(inner)) steps.push({ kind: 'member', name: inner.slice(1, -1) });
      else fail(`"[${inner}]" is neither *, an index nor a quoted name`);
      at = close + 1;
    } else {
      fail(`unexpected ${JSON.stringify(src[at])}`);
    }
  }
  return { text, steps };
}

type Container = Record<string, unknown> | unknown[];
const isContainer = (v: unknown): v is Container => v !== null && typeof v === 'object';

/** Replaces every field `selector` reaches in `root`; returns the new root and how many fields were reached. */
export function applySelector(root: unknown, selector: Selector, fn: MaskFunction): { value: unknown; matched: number } {
  if (selector.steps.length === 0) {
    const v = fn(root);
    return { value: v === DROP ? null : v, matched: 1 };
  }
  const holder = { root };
  let matched = 0;
  const set = (parent: Container, key: string | number): void => {
    matched++;
    const out = fn((parent as Record<string, unknown>)[key as string]);
    if (out !== DROP) (parent as Record<string, unknown>)[key as string] = out;
    else if (Array.isArray(parent)) parent[key as number] = null; // indices of the rest stay as they were
    else delete (parent as Record<string, unknown>)[key as string];
  };
  /** Applies steps[i..] below `value`, which sits at parent[key]. */
  const walk = (parent: Container, key: string | number, i: number): void => {
    if (i === selector.steps.length) return set(parent, key);
    const value = (parent as Record<string, unknown>)[key as string];
    const step = selector.steps[i]!;
    if (step.kind === 'descend') {
      // The step's name at this level or any depth below it.
      descend(value, step.name, i + 1);
      return;
    }
    if (!isContainer(value)) return;
    if (step.kind === 'member') {
      if (!Array.isArray(value) && Object.hasOwn(value, step.name)) walk(value, step.name, i + 1);
    } else if (step.kind === 'index') {
      if (Array.isArray(value) && step.index < value.length) walk(value, step.index, i + 1);
    } else {
      for (const k of Array.isArray(value) ? [...value.keys()] : Object.keys(value)) walk(value, k, i + 1);
    }
  };
  const descend = (value: unknown, name: string | null, next: number): void => {
    if (!isContainer(value)) return;
    const keys = Array.isArray(value) ? [...value.keys()] : Object.keys(value);
    for (const k of keys) {
      const child = (value as Record<string, unknown>)[k as string];
      // Deeper first: what a match is replaced with is not searched again.
      descend(child, name, next);
      if (name === null || (!Array.isArray(value) && k === name)) walk(value, k, next);
    }
  };
  walk(holder as unknown as Container, 'root', 0);
  return { value: holder.root, matched };
}
