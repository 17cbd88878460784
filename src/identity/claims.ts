/**
 * Claims → principal name and groups. A claim path is dot-separated (`realm_access.roles`); a
 * string value is split on spaces (the `scope` claim), an array keeps its string members.
 */

export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let cur: unknown = claims;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function groupsFrom(claims: Record<string, unknown>, path: string): string[] {
  const v = claimAt(claims, path);
  if (typeof v === 'string') return v.split(' ').filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

export function principalFrom(claims: Record<string, unknown>, path: string): string | undefined {
  const v = claimAt(claims, path);
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}
