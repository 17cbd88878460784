/**
 * What checking a credential yields: a ValidatedToken, or TokenRejected with a short reason
 * that never quotes the token. Shared by JWT validation, introspection and service accounts.
 */
import { groupsFrom, principalFrom } from './claims.js';

export type RejectReason =
  | 'malformed'
  | 'alg not allowed'
  | 'untrusted issuer'
  | 'wrong issuer'
  | 'wrong audience'
  | 'expired'
  | 'not yet valid'
  | 'bad signature'
  | 'missing claim'
  | 'inactive'
  | 'issuer unavailable'
  | 'wrong token type'
  | 'bad secret'
  | 'too many logins';

export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
  constructor(
    readonly reason: RejectReason,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

export interface ValidatedToken {
  /** The bare principal name (the principal claim, or the service account's name). */
  principal: string;
  groups: string[];
  issuer: string;
  /** The identity source (src/identity/sources.ts): the issuer's name, or `local` for a service account. */
  source: string;
  clientId: string | undefined;
  /** ms since epoch (Infinity for a credential that does not expire, e.g. a service account secret) */
  expiresAt: number;
  claims: Record<string, unknown>;
}

/** Maps verified claims (a JWT payload or an introspection response) to the principal, the same way for both. */
export function validatedFromClaims(
  claims: Record<string, unknown>,
  issuer: string,
  mapping: { principalClaim: string; groupsClaim: string; name?: string | undefined },
): ValidatedToken {
  const principal = principalFrom(claims, mapping.principalClaim);
  if (!principal) throw new TokenRejected('missing claim', `token has no ${mapping.principalClaim} claim for the principal`);
  if (typeof claims.exp !== 'number') throw new TokenRejected('missing claim', 'token has no exp claim');
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : typeof claims.azp === 'string' ? claims.azp : undefined;
  return {
    principal,
    groups: groupsFrom(claims, mapping.groupsClaim),
    issuer,
    // Without a configured name (never from a config file), the issuer itself: unique all the same.
    source: mapping.name ?? issuer,
    clientId,
    expiresAt: claims.exp * 1000,
    claims,
  };
}
