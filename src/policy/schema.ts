/**
 * The policy file's shape: roles, who holds them, and what each role may (or may not) do.
 *
 *   roles:
 *     payments-app:
 *       members: { groups: [payments-team] }
 *       rules:
 *         - { resource: topic, name: "payments_*", operations: [All] }
 *         - { resource: group, name: "payments-", pattern: prefix, operations: [All] }
 *
 * A name with `*` or `?` is a glob unless `pattern` says otherwise; otherwise it is literal.
 * The cluster resource takes no name.
 *
 * Members: a principal entry matches the principal's name qualified by its identity source
 * (`corp:alice`, `local:billing-batch`; src/identity/sources.ts), or its name as the proxy gives
 * it (bare where the config has a single source). `issuers` pins every binding of the role to
 * principals of the sources it lists. Claims match exactly, except `scope`, a space-separated
 * list that matches when it holds the value (any claim may say so with `spaceSeparated`).
 */
import { z } from 'zod';
import { maskingSchema } from '../masking/schema.js';
import { OPERATIONS, RESOURCE_TYPES, type Operation, type ResourceType } from './model.js';

const operation = z.enum(OPERATIONS as [Operation, ...Operation[]]);
const resourceType = z.enum(RESOURCE_TYPES as [ResourceType, ...ResourceType[]]);

const claimValue = z.union([z.string(), z.number(), z.boolean()]);
const claimValues = z.union([claimValue, z.array(claimValue).min(1)]);

/** A claim's wanted value(s), and whether a string claim is a space-separated list (default: only for `scope`). */
const claimMatch = z.union([
  claimValues,
  z
    .object({
      value: claimValues,
      /** The claim is a space-separated list (OAuth's `scope`): it matches when it holds a wanted value. */
      spaceSeparated: z.boolean().optional(),
    })
    .strict(),
]);

/** The claim path whose string value is a space-separated list unless its match says otherwise (RFC 6749 §3.3). */
export const SPACE_SEPARATED_CLAIMS: readonly string[] = ['scope'];

const membersSchema = z
  .object({
    /** Principal names (globs allowed, e.g. "corp:svc-*"): `source:name`, or the name as the proxy gives it. */
    principals: z.array(z.string().min(1)).default([]),
    /** Groups/roles from the token's groups claim. */
    groups: z.array(z.string().min(1)).default([]),
    /** Claim expressions: every listed claim (dot path) must equal the value, or one of the values; an array claim matches when it contains one. */
    claims: z.record(z.string().min(1), claimMatch).optional(),
    /** Identity sources (issuer names, `local`, `mtls`): when given, principals, groups and claims bind only principals of these. */
    issuers: z.array(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'issuers are named as identity.issuers[].name names them (or local, mtls), not by URL')).min(1).optional(),
  })
  .strict();

const ruleSchema = z
  .object({
    resource: resourceType,
    /** The resource name; "*" matches every name. Absent (or "*") for the cluster. */
    name: z.string().min(1).optional(),
    /** literal, prefix or glob; default: glob when the name has * or ?, else literal. */
    pattern: z.enum(['literal', 'prefix', 'glob']).optional(),
    operations: z.array(operation).min(1),
    effect: z.enum(['allow', 'deny']).default('allow'),
    /** Free text shown by `policy check` and in audit. */
    description: z.string().optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.resource !== 'cluster' && r.name === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `a ${r.resource} rule needs a name ("*" for all)`, path: ['name'] });
    if (r.resource === 'cluster' && r.name !== undefined && r.name !== '*' && r.name !== 'kafka-cluster') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'the cluster resource has no name (omit it)', path: ['name'] });
    }
  });

const roleSchema = z
  .object({
    description: z.string().optional(),
    members: membersSchema.default({}),
    rules: z.array(ruleSchema).default([]),
  })
  .strict();

export const policySchema = z
  .object({
    /** Role name → who holds it and its rules. */
    roles: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'role names use letters, digits, . _ -'), roleSchema),
    /** Fields hidden in records on their way to consumers, per role (src/masking/). */
    masking: maskingSchema.optional(),
  })
  .strict();

export type PolicyDocument = z.infer<typeof policySchema>;
export type PolicyDocumentInput = z.input<typeof policySchema>;
export type RoleDocument = PolicyDocument['roles'][string];
export type RuleDocument = RoleDocument['rules'][number];
