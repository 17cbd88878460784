/**
 * Identity sources and principal names. Each principal comes from one source: a trusted issuer
 * (named by its `name` in identity.issuers, `oidc` for a lone issuer without one), the local
 * service accounts (`local`) or client certificates (`mtls`). Two sources can vouch for the same
 * bare name ("alice" of two issuers, or a service account named like a user), so where a config
 * has more than one source every principal name is qualified by its source: `corp:alice`,
 * `local:alice`, `mtls:payments-app`. With a single source nothing can collide and names stay
 * bare. Policies pin sources by these names (src/policy/authorizer.ts).
 */
import type { IdentityConfig } from '../config/schema.js';

/** The source of local service accounts (also their principals' issuer). */
export const LOCAL_SOURCE = 'local';
/** The source of client certificates (identity.mtls). */
export const MTLS_SOURCE = 'mtls';
/** The name of a lone issuer configured without one. */
export const DEFAULT_ISSUER_NAME = 'oidc';
/** Source names the issuers may not take. */
export const RESERVED_SOURCES: readonly string[] = [LOCAL_SOURCE, MTLS_SOURCE];
/** What an issuer's name may be: no `:`, which separates the source from the name. */
export const SOURCE_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

type Sources = Pick<IdentityConfig, 'issuers' | 'serviceAccounts' | 'mtls'>;

/** The source name of `identity.issuers[index]` (the config guarantees one when there are several issuers). */
export function issuerSourceName(identity: Pick<IdentityConfig, 'issuers'>, index: number): string {
  const i = identity.issuers[index]!;
  return i.name ?? (identity.issuers.length === 1 ? DEFAULT_ISSUER_NAME : i.issuer);
}

/** Every source a config's identity section has, in order: issuers, `local`, `mtls`. */
export function identitySources(identity: Sources | undefined): string[] {
  if (!identity) return [];
  const out = identity.issuers.map((_, index) => issuerSourceName(identity, index));
  if (identity.serviceAccounts.length > 0) out.push(LOCAL_SOURCE);
  if (identity.mtls) out.push(MTLS_SOURCE);
  return out;
}

/** Whether the principals of this identity section are named `source:name` (more than one source). */
export function qualifiesNames(identity: Sources | undefined): boolean {
  return identitySources(identity).length > 1;
}

/** `source:name`: the principal's name that no other source can give. */
export function qualifiedName(source: string, bareName: string): string {
  return `${source}:${bareName}`;
}

/** The name a principal goes by (audit, logs, policy): qualified when the config has several sources. */
export function principalName(source: string, bareName: string, qualify: boolean): string {
  return qualify ? qualifiedName(source, bareName) : bareName;
}
