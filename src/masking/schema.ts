/**
 * The `masking` section of the policy file (issue 12): keys for the keyed functions, and rules.
 *
 *   masking:
 *     keys:
 *       k1: { env: GATEHOUSE_MASK_KEY }        # or { secret: "..." }
 *     rules:
 *       - name: card-number
 *         topics: [payments_*]                  # names or * patterns, as in policy rules
 *         part: value                           # value | key | header:<name>
 *         format: json                          # plain UTF-8 JSON
 *         fields: [card.number, items[*].iban]  # selectors (selectors.ts)
 *         mask: { fn: keepLast, n: 4 }          # functions.ts; token/formatPreserving name a key
 *         exempt: { roles: [admin] }            # or `only: {...}`: masked for these alone
 *         onError: pass                         # a value that is not JSON: pass (counted) or withhold (null)
 */
import { z } from 'zod';

const whoSchema = z
  .object({
    roles: z.array(z.string()).default([]),
    groups: z.array(z.string()).default([]),
    principals: z.array(z.string()).default([]),
  })
  .strict();

const maskSchema = z.discriminatedUnion('fn', [
  z.object({ fn: z.literal('redact'), text: z.string().optional() }).strict(),
  z.object({ fn: z.literal('nullify') }).strict(),
  z.object({ fn: z.literal('drop') }).strict(),
  z.object({ fn: z.literal('keepLast'), n: z.number().int().min(0), char: z.string().optional() }).strict(),
  z.object({ fn: z.literal('keepFirst'), n: z.number().int().min(0), char: z.string().optional() }).strict(),
  z.object({ fn: z.literal('token'), key: z.string() }).strict(),
  z.object({ fn: z.literal('formatPreserving'), key: z.string() }).strict(),
  z.object({ fn: z.literal('regex'), pattern: z.string(), flags: z.string().optional(), replacement: z.string() }).strict(),
]);

export const maskingRuleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'rule names use letters, digits, . _ -'),
    topics: z.union([z.string(), z.array(z.string()).min(1)]).transform((t) => (Array.isArray(t) ? t : [t])),
    part: z.union([z.enum(['value', 'key']), z.string().regex(/^header:.+$/, 'part is value, key or header:<name>')]).default('value'),
    format: z.literal('json').default('json'),
    fields: z.array(z.string()).min(1),
    mask: maskSchema,
    exempt: whoSchema.optional(),
    only: whoSchema.optional(),
    onError: z.enum(['pass', 'withhold']).default('pass'),
  })
  .strict()
  .refine((r) => !(r.exempt && r.only), { message: 'a rule names either exempt or only, not both' });

export const maskingSchema = z
  .object({
    keys: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'key ids use letters, digits, _ -'), z.union([z.object({ env: z.string() }).strict(), z.object({ secret: z.string().min(16) }).strict()])).default({}),
    rules: z.array(maskingRuleSchema).default([]),
  })
  .strict();

export type MaskingDocument = z.infer<typeof maskingSchema>;
export type MaskingRuleDocument = z.infer<typeof maskingRuleSchema>;
