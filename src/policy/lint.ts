/**
 * `gatehouse policy lint`: what in a policy is probably a mistake. Roles nobody holds, rules
 * another rule of the same role already covers (or a deny always overrides), and patterns that
 * match no topic or group the cluster has; given the config's identity sources, roles pinned to
 * a source that does not exist and principal entries no principal's name can match (bare names
 * where names are qualified `source:name`).
 */
import { EXPLICIT_ONLY, IMPLIED_BY, type Operation, type ResourceType } from './model.js';
import { covers, type NamePattern } from './patterns.js';
import type { CompiledRule, Policy } from './authorizer.js';

export interface LintFinding {
  readonly kind: 'unused-role' | 'empty-role' | 'shadowed-rule' | 'overridden-rule' | 'matches-nothing' | 'unknown-issuer' | 'unqualified-principal';
  readonly role: string;
  /** "role/index" when the finding is about one rule. */
  readonly rule?: string;
  readonly message: string;
}

/** Names the cluster has, for the matches-nothing check. */
export interface KnownNames {
  readonly topics?: readonly string[];
  readonly groups?: readonly string[];
  readonly transactionalIds?: readonly string[];
}

/** The operations a rule's operations grant, with Kafka's implied ones. */
function granted(ops: ReadonlySet<Operation>): Set<Operation> | 'all' {
  if (ops.has('All')) return 'all';
  const out = new Set(ops);
  for (const [implied, by] of Object.entries(IMPLIED_BY)) if (by!.some((o) => ops.has(o))) out.add(implied as Operation);
  return out;
}

/** Whether `outer` covers every operation of `inner`; for allows (withImplied), `All` does not cover EXPLICIT_ONLY. */
function opsCovered(outer: CompiledRule, inner: CompiledRule, withImplied: boolean): boolean {
  const g = withImplied ? granted(outer.operations) : outer.operations.has('All') ? 'all' : outer.operations;
  if (g === 'all') return !withImplied || [...inner.operations].every((o) => !EXPLICIT_ONLY.has(o));
  return [...inner.operations].every((o) => o !== 'All' && g.has(o));
}

function describeRule(r: CompiledRule): string {
  const name = r.resourceType === 'cluster' ? '' : ` ${r.pattern.type === 'prefix' ? `${r.pattern.value}(prefix)` : r.pattern.value}`;
  return `${r.effect} ${[...r.operations].join(',')} on ${r.resourceType}${name}`;
}

/** Whether some name starting with `start` may match `p` (conservative: true when unsure). */
function mayMatchStartingWith(p: NamePattern, start: string): boolean {
  if (p.matchesAll) return true;
  if (p.type === 'prefix') return p.value.startsWith(start) || start.startsWith(p.value);
  if (p.type === 'literal') return p.value.startsWith(start);
  const fixed = p.value.split(/[*?]/)[0]!;
  return fixed.startsWith(start) || start.startsWith(fixed);
}

/**
 * `sources`: the config's identity sources (src/identity/sources.ts), when known. With several,
 * principal names are `source:name` and an entry that can match none of them binds no one.
 */
export function lintPolicy(policy: Policy, known: KnownNames = {}, sources?: readonly string[]): LintFinding[] {
  const findings: LintFinding[] = [];
  for (const role of policy.roles.values()) {
    if (sources && sources.length > 0) {
      for (const issuer of role.issuers ?? []) {
        if (!sources.includes(issuer)) {
          findings.push({ kind: 'unknown-issuer', role: role.name, message: `role ${role.name} is pinned to issuer ${JSON.stringify(issuer)}, which is none of the identity sources (${sources.join(', ')})` });
        }
      }
    }
    if (sources && sources.length > 1) {
      for (const p of role.principals) {
        if (!sources.some((s) => mayMatchStartingWith(p, `${s}:`))) {
          findings.push({
            kind: 'unqualified-principal',
            role: role.name,
            message: `role ${role.name}: principal ${JSON.stringify(p.value)} matches no one: with several identity sources principals are named source:name (${sources.map((s) => `${s}:…`).join(', ')})`,
          });
        }
      }
    }
    if (role.principals.length === 0 && role.groups.size === 0 && role.claims.length === 0) {
      findings.push({ kind: 'unused-role', role: role.name, message: `role ${role.name} has no members (no principals, groups or claims bind it)` });
    }
    if (role.rules.length === 0) findings.push({ kind: 'empty-role', role: role.name, message: `role ${role.name} has no rules: its members get nothing from it` });
    role.rules.forEach((r, j) => {
      for (let i = 0; i < role.rules.length; i++) {
        const o = role.rules[i]!;
        if (i === j || o.resourceType !== r.resourceType || !covers(o.pattern, r.pattern)) continue;
        if (o.effect === 'deny' && r.effect === 'allow' && opsCovered(o, r, false)) {
          findings.push({ kind: 'overridden-rule', role: role.name, rule: r.id, message: `${r.id} (${describeRule(r)}) never applies: ${o.id} (${describeRule(o)}) denies all of it` });
          return;
        }
        // Of two identical rules, report the later one only.
        const identical = covers(r.pattern, o.pattern) && opsCovered(r, o, false) && opsCovered(o, r, false);
        if (o.effect === r.effect && opsCovered(o, r, r.effect === 'allow') && (!identical || i < j)) {
          findings.push({ kind: 'shadowed-rule', role: role.name, rule: r.id, message: `${r.id} (${describeRule(r)}) is shadowed by ${o.id} (${describeRule(o)})` });
          return;
        }
      }
    });
    const names: Partial<Record<ResourceType, readonly string[] | undefined>> = { topic: known.topics, group: known.groups, transactionalId: known.transactionalIds };
    for (const r of role.rules) {
      const list = names[r.resourceType];
      if (!list || r.pattern.matchesAll || r.effect === 'deny') continue;
      if (!list.some((n) => r.pattern.matches(n))) {
        findings.push({ kind: 'matches-nothing', role: role.name, rule: r.id, message: `${r.id} (${describeRule(r)}) matches no ${r.resourceType} the cluster has` });
      }
    }
  }
  return findings;
}
