/**
 * A policy compiled for fast decisions. Deny wins; an action nothing allows is denied; Kafka's
 * implied operations hold for allows (Read/Write/Delete/Alter allow Describe, AlterConfigs
 * allows DescribeConfigs); an allow of `All` leaves out the delegation-token operations (see
 * EXPLICIT_ONLY). Protected topics (the audit topic and the proxy's own internal topics) are
 * never written by clients whatever the policy says, and are read only through a rule that
 * names them literally: a wildcard grant does not reach them.
 *
 * Roles bind principals by name, group or claims. A principal entry matches the subject's
 * qualified name (`source:name`) or the name the proxy gives it (bare only where the config has
 * one identity source, so a bare entry cannot reach another source's principal of that name);
 * a role with `issuers` binds only subjects of those sources. Claims match exactly, except a
 * space-separated one (`scope`, or `spaceSeparated: true`), which matches by its members.
 */
import { claimAt } from '../identity/claims.js';
import { BoundedMap } from './bounded-map.js';
import { compileMasking, type MaskingRules } from '../masking/rules.js';
import type { DecisionCache } from './decision-cache.js';
import { EXPLICIT_ONLY, IMPLIED_BY, OPERATION_CODES, SUPPORTED_OPERATIONS, type Action, type Check, type Operation, type ResourceType } from './model.js';
import { compilePattern, type NamePattern } from './patterns.js';
import { SPACE_SEPARATED_CLAIMS, type PolicyDocument, type RuleDocument } from './schema.js';

/** Who is asking, as the policy sees it. */
export interface Subject {
  /** The principal's name as the proxy gives it (Principal.name): `source:name` where sources could collide, else bare. */
  readonly name: string;
  /** Its identity source (issuer name, `local`, `mtls`); absent for ANONYMOUS, which no pinned role binds. */
  readonly source?: string | undefined;
  /** `source:bare name` (Principal.qualifiedName); absent for ANONYMOUS. */
  readonly qualifiedName?: string | undefined;
  readonly groups: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface CompiledRule {
  /** "role/index", e.g. "payments-app/0". */
  readonly id: string;
  readonly role: string;
  readonly index: number;
  readonly resourceType: ResourceType;
  readonly pattern: NamePattern;
  readonly operations: ReadonlySet<Operation>;
  readonly effect: 'allow' | 'deny';
  readonly source: RuleDocument;
}

export interface CompiledRole {
  readonly name: string;
  readonly rules: readonly CompiledRule[];
  readonly principals: readonly NamePattern[];
  readonly groups: ReadonlySet<string>;
  readonly claims: readonly ClaimExpression[];
  /** The sources whose principals the role binds; undefined: any source. */
  readonly issuers: ReadonlySet<string> | undefined;
}

/** One claim a role's claim binding needs. */
export interface ClaimExpression {
  /** Dot path. */
  readonly path: string;
  readonly values: ReadonlyArray<string | number | boolean>;
  /** A string claim is a space-separated list, matching when one of its members is wanted. */
  readonly spaceSeparated: boolean;
}

/** Topics no client writes and only explicitly granted roles read. */
export interface ProtectedTopics {
  /** Exact names (the audit topic). */
  readonly names: readonly string[];
  /** Prefixes of the proxy's internal topics. */
  readonly prefixes: readonly string[];
}

export const DEFAULT_PROTECTED: ProtectedTopics = { names: [], prefixes: ['__gatehouse'] };

/** What no client may do to a protected topic, whatever the policy says. */
export const WRITE_LIKE: ReadonlySet<Operation> = new Set(['Write', 'Create', 'Delete', 'Alter', 'AlterConfigs', 'All']);

/** Whether an allow rule's operations grant `op`: named, or through `All` (which leaves out EXPLICIT_ONLY). */
function grants(ops: ReadonlySet<Operation>, op: Operation): boolean {
  return ops.has(op) || (ops.has('All') && !EXPLICIT_ONLY.has(op));
}

/** An array claim matches by membership; a string by equality, or by its members when space-separated. */
function claimMatches(claims: Readonly<Record<string, unknown>>, e: ClaimExpression): boolean {
  const v = claimAt(claims as Record<string, unknown>, e.path);
  const values: unknown[] = Array.isArray(v) ? v : typeof v === 'string' && e.spaceSeparated ? [v, ...v.split(' ')] : [v];
  return values.some((x) => e.values.includes(x as string));
}

function compileClaims(claims: PolicyDocument['roles'][string]['members']['claims']): ClaimExpression[] {
  return Object.entries(claims ?? {}).map(([path, m]) => {
    const spec = typeof m === 'object' && !Array.isArray(m) ? m : { value: m, spaceSeparated: undefined };
    return { path, values: Array.isArray(spec.value) ? spec.value : [spec.value], spaceSeparated: spec.spaceSeparated ?? SPACE_SEPARATED_CLAIMS.includes(path) };
  });
}

/** Subjects whose roles a policy remembers (forSubject with a cache). */
const ROLES_REMEMBERED = 1_000;

export class Policy {
  readonly roles: ReadonlyMap<string, CompiledRole>;
  readonly protectedTopics: ProtectedTopics;
  /** The roles bound by claims, the only ones subjectKey looks at. */
  private readonly claimRoles: readonly CompiledRole[];
  /** rolesFor by subject key: the connections of a subject resolve their roles once per policy. */
  private readonly rolesByKey = new BoundedMap<string, CompiledRole[]>(ROLES_REMEMBERED);

  constructor(
    readonly document: PolicyDocument,
    protectedTopics: ProtectedTopics = DEFAULT_PROTECTED,
  ) {
    this.protectedTopics = protectedTopics;
    const roles = new Map<string, CompiledRole>();
    for (const [name, role] of Object.entries(document.roles)) {
      roles.set(name, {
        name,
        principals: role.members.principals.map((p) => compilePattern(p)),
        groups: new Set(role.members.groups),
        claims: compileClaims(role.members.claims),
        issuers: role.members.issuers ? new Set(role.members.issuers) : undefined,
        rules: role.rules.map((r, index) => ({
          id: `${name}/${index}`,
          role: name,
          index,
          resourceType: r.resource,
          pattern: r.resource === 'cluster' ? compilePattern('*') : compilePattern(r.name!, r.pattern),
          operations: new Set(r.operations),
          effect: r.effect,
          source: r,
        })),
      });
    }
    this.roles = roles;
    this.claimRoles = [...roles.values()].filter((r) => r.claims.length > 0);
    this.masking = compileMasking(document.masking);
  }

  /** The masking rules of this policy (none without a `masking` section). */
  readonly masking: MaskingRules;

  /**
   * The roles a subject holds: by principal name, by group, or by claims (all listed claims must
   * match), each only for a subject of one of the role's `issuers` when it pins them.
   */
  rolesFor(subject: Subject): CompiledRole[] {
    const out: CompiledRole[] = [];
    for (const role of this.roles.values()) {
      if (role.issuers && (subject.source === undefined || !role.issuers.has(subject.source))) continue;
      const byName = role.principals.some((p) => p.matches(subject.name) || (subject.qualifiedName !== undefined && p.matches(subject.qualifiedName)));
      const byGroup = subject.groups.some((g) => role.groups.has(g));
      if (byName || byGroup || heldByClaims(role, subject)) out.push(role);
    }
    return out;
  }

  /**
   * A key equal for two subjects only when this policy cannot tell them apart (rolesFor gives
   * both the same roles, so every decision is the same): the name, qualified name and source,
   * the set of groups, and the roles whose claim expressions hold. Claims no role reads (exp,
   * iat, jti) are left out, so a client's successive tokens share decisions. Keep in step with
   * rolesFor.
   */
  subjectKey(subject: Subject): string {
    const byClaims = this.claimRoles.filter((role) => heldByClaims(role, subject)).map((role) => role.name);
    return JSON.stringify([subject.name, subject.qualifiedName ?? null, subject.source ?? null, [...new Set(subject.groups)].sort(), byClaims]);
  }

  isProtectedTopic(name: string): boolean {
    return this.protectedTopics.names.includes(name) || this.protectedTopics.prefixes.some((p) => name.startsWith(p));
  }

  /**
   * The policy as it applies to `subject`. With `cached`, its roles and decisions are shared with
   * every subject of the same key, its decisions through that cache; `generation` is this policy's.
   */
  forSubject(subject: Subject, cached?: { cache: DecisionCache; generation: number }): SubjectPolicy {
    if (!cached) return new SubjectPolicy(this, subject, this.rolesFor(subject));
    const key = this.subjectKey(subject);
    let roles = this.rolesByKey.get(key);
    if (roles === undefined) this.rolesByKey.set(key, (roles = this.rolesFor(subject)));
    return new SubjectPolicy(this, subject, roles, { ...cached, key });
  }
}

function heldByClaims(role: CompiledRole, subject: Subject): boolean {
  return role.claims.length > 0 && role.claims.every((e) => claimMatches(subject.claims, e));
}

/** The policy as it applies to one subject: the rules of the roles it holds. */
export class SubjectPolicy {
  readonly rules: readonly CompiledRule[];

  constructor(
    readonly policy: Policy,
    readonly subject: Subject,
    readonly roles: readonly CompiledRole[],
    private readonly cached?: { cache: DecisionCache; generation: number; key: string },
  ) {
    this.rules = roles.flatMap((r) => r.rules);
  }

  get roleNames(): string[] {
    return this.roles.map((r) => r.name);
  }

  /** How the policy decides `action`: through the decision cache when there is one. */
  decide(action: Action): Check {
    const c = this.cached;
    return c ? c.cache.decide(c.generation, c.key, this, action) : this.evaluate(action);
  }

  /** How the rules decide `action`, evaluated now. */
  evaluate(action: Action): Check {
    const { resourceType, name, operation } = action;
    const isProtected = resourceType === 'topic' && this.policy.isProtectedTopic(name);
    if (isProtected && WRITE_LIKE.has(operation)) return { action, allowed: false, rule: 'protected-topic' };
    const candidates = this.rules.filter((r) => r.resourceType === resourceType && r.pattern.matches(name));
    const deny = candidates.find((r) => r.effect === 'deny' && (r.operations.has(operation) || r.operations.has('All')));
    if (deny) return { action, allowed: false, rule: deny.id };
    const implying = IMPLIED_BY[operation] ?? [];
    const allow = candidates.find(
      (r) =>
        r.effect === 'allow' &&
        (!isProtected || r.pattern.type === 'literal') &&
        (grants(r.operations, operation) || implying.some((o) => r.operations.has(o))),
    );
    if (allow) return { action, allowed: true, rule: allow.id };
    return { action, allowed: false, rule: isProtected ? 'protected-topic' : 'default-deny' };
  }

  /**
   * Kafka's authorizeByResourceType: allowed when some allow rule grants `op` on some resource
   * of the type and no deny rule takes away every name (a deny on "*"). Not cached: it names no
   * resource, and costs one pass over the subject's rules.
   */
  decideOnAny(resourceType: ResourceType, operation: Operation): Check {
    const action: Action = { resourceType, name: '*', operation };
    const denies = (r: CompiledRule) => r.operations.has(operation) || r.operations.has('All');
    const denyAll = this.rules.find((r) => r.resourceType === resourceType && r.effect === 'deny' && r.pattern.matchesAll && denies(r));
    if (denyAll) return { action, allowed: false, rule: denyAll.id };
    const allow = this.rules.find((r) => r.resourceType === resourceType && r.effect === 'allow' && grants(r.operations, operation));
    if (allow) return { action, allowed: true, rule: allow.id };
    return { action, allowed: false, rule: 'default-deny' };
  }

  /** Kafka's authorized-operations bit field for a resource. */
  authorizedOperations(resourceType: ResourceType, name: string): number {
    let bits = 0;
    for (const op of SUPPORTED_OPERATIONS[resourceType]) {
      if (this.decide({ resourceType, name, operation: op }).allowed) bits |= 1 << OPERATION_CODES[op];
    }
    return bits;
  }
}
