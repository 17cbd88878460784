/**
 * `gatehouse policy lint`: what in a policy is probably a mistake. Roles nobody holds, rules
 * another rule of the same role already covers (or a deny always overrides), and patterns that
 * match no topic or group the cluster has.
 */
import { EXPLICIT_ONLY, IMPLIED_BY, type Operation, type ResourceType } from './model.js';
import { covers } from './patterns.js';
import type { CompiledRule, Policy } from './authorizer.js';

export interface LintFinding {
  readonly kind: 'unused-role' | 'empty-role' | 'shadowed-rule' | 'overridden-rule' | 'matches-nothing';
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

export function lintPolicy(policy: Policy, known: KnownNames = {}): LintFinding[] {
  const findings: LintFinding[] = [];
  for (const role of policy.roles.values()) {
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
