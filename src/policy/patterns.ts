/** Resource-name patterns: literal, prefix and glob (`*` any run, `?` one character). */

export type PatternType = 'literal' | 'prefix' | 'glob';

export interface NamePattern {
  readonly type: PatternType;
  readonly value: string;
  matches(name: string): boolean;
  /** True when the pattern matches every name ("*"). */
  readonly matchesAll: boolean;
}

function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 's');
}

export function compilePattern(value: string, type?: PatternType): NamePattern {
  const t: PatternType = type ?? (/[*?]/.test(value) ? 'glob' : 'literal');
  if (value === '*' && t !== 'prefix') return { type: 'glob', value, matchesAll: true, matches: () => true };
  switch (t) {
    case 'literal':
      return { type: t, value, matchesAll: false, matches: (n) => n === value };
    case 'prefix':
      return { type: t, value, matchesAll: value === '', matches: (n) => n.startsWith(value) };
    case 'glob': {
      const re = globToRegExp(value);
      return { type: t, value, matchesAll: false, matches: (n) => re.test(n) };
    }
  }
}

/** Whether every name `inner` matches is also matched by `outer` (conservative: false when unsure). */
export function covers(outer: NamePattern, inner: NamePattern): boolean {
  if (outer.matchesAll) return true;
  if (inner.matchesAll) return false;
  if (inner.type === 'literal') return outer.matches(inner.value);
  if (inner.type === 'prefix') {
    if (outer.type === 'prefix') return inner.value.startsWith(outer.value);
    if (outer.type === 'glob') return outer.matches(inner.value) && outer.value.endsWith('*') && !outer.value.slice(0, -1).includes('*') && inner.value.startsWith(outer.value.slice(0, -1));
    return false;
  }
  // inner is a glob
  if (outer.type === 'glob' || outer.type === 'literal') return outer.value === inner.value;
  // outer prefix: the glob's fixed start must begin with it
  const fixed = inner.value.split(/[*?]/)[0]!;
  return fixed.startsWith(outer.value);
}
