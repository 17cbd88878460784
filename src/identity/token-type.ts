/**
 * Is a token an access token? An OpenID provider signs ID tokens (and logout tokens) with the
 * same keys as its JWT access tokens, and an ID token's `aud` is a client id — so a proxy whose
 * audience is also a client's id would take that client's ID tokens for access tokens unless it
 * tells them apart.
 *
 * JWTs (RFC 9068 §4): an access token is explicitly typed, header `typ` `at+jwt` (or
 * `application/at+jwt`); ID tokens never are. That is the only robust distinction, and the
 * default. Providers that issue plain JWT access tokens (`typ` `JWT` or none: Keycloak, Microsoft
 * Entra ID and others) need `acceptPlainJwtAccessTokens` on their issuer; such a token is then
 * refused only when it says what else it is:
 *  - a `typ` header other than `JWT`/`at+jwt` (e.g. `logout+jwt`, `secevent+jwt`, `dpop+jwt`);
 *  - a `typ` claim, as Keycloak marks each token: `Bearer` is an access token (decisive, also
 *    for Keycloak releases before 25 that copy `nonce` into access tokens); `ID`, `Refresh`,
 *    `Logout`, anything else is not;
 *  - otherwise, a claim only ID tokens carry (OpenID Connect Core §2, §3.1.3.6, §3.3.2.11):
 *    `nonce`, `at_hash`, `c_hash`; or `events`, which makes it a security event token (a
 *    back-channel logout token).
 * (Entra ID's `nonce` in some access tokens' header is not a claim and does not count.)
 *
 * Introspection (RFC 7662 §2.2): `token_type` is the OAuth token type (RFC 6749 §7.1). `Bearer`
 * is what providers answer for access tokens; `access_token` and RFC 8693's
 * `urn:ietf:params:oauth:token-type:access_token` are accepted too. Anything else is refused:
 * `refresh_token`, `id_token`, RFC 8693's `N_A` (not an access token), and `DPoP` (RFC 9449 §6.2:
 * a sender-constrained token needs a proof of possession that SASL cannot carry). No
 * `token_type` at all is accepted (the field is optional).
 */
import type { JWTPayload } from 'jose';

/** A `typ`/`token_type` value compared as RFC 7515 §4.1.9 says: case-insensitive, `application/` optional. */
function normalized(v: string): string {
  const t = v.trim().toLowerCase();
  return t.startsWith('application/') ? t.slice('application/'.length) : t;
}

const quote = (v: unknown): string => JSON.stringify(String(v).slice(0, 60));

/** Claims only an ID token (or a security event token) carries. */
const NOT_ACCESS_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash', 'events'] as const;

/**
 * Why a verified JWT is not an access token, or undefined when it is one. `typ` is its protected
 * header's value; `acceptPlain` the issuer's `acceptPlainJwtAccessTokens`.
 */
export function jwtTypeProblem(typ: unknown, claims: JWTPayload, acceptPlain: boolean): string | undefined {
  if (typ !== undefined && typeof typ !== 'string') return 'typ header is not a string';
  const t = typ === undefined ? undefined : normalized(typ);
  if (t === 'at+jwt') return undefined;
  if (!acceptPlain) {
    return typ === undefined
      ? 'token has no typ header; access tokens are typed at+jwt (RFC 9068), ID tokens are not (acceptPlainJwtAccessTokens accepts untyped ones)'
      : `typ ${quote(typ)} is not at+jwt (RFC 9068): not an access token (acceptPlainJwtAccessTokens accepts typ JWT)`;
  }
  if (t !== undefined && t !== 'jwt') return `typ ${quote(typ)} is not an access token type`;
  if (typeof claims.typ === 'string') {
    return claims.typ.toLowerCase() === 'bearer' ? undefined : `the token's typ claim ${quote(claims.typ)} says it is not an access token`;
  }
  const marker = NOT_ACCESS_TOKEN_CLAIMS.find((c) => claims[c] !== undefined);
  if (marker === 'events') return 'token carries events: a security event (logout) token, not an access token';
  if (marker) return `token carries ${marker}, a claim of ID tokens: not an access token`;
  return undefined;
}

const ACCESS_TOKEN_TYPES = new Set(['bearer', 'access_token', 'urn:ietf:params:oauth:token-type:access_token']);

/** Why an introspection answer's `token_type` is not a bearer access token's, or undefined when it is (or is absent). */
export function introspectedTypeProblem(tokenType: unknown): string | undefined {
  if (tokenType === undefined || tokenType === null) return undefined;
  if (typeof tokenType !== 'string') return 'introspection answered a token_type that is not a string';
  if (ACCESS_TOKEN_TYPES.has(normalized(tokenType))) return undefined;
  if (normalized(tokenType) === 'dpop') return 'introspection says token_type "DPoP": a sender-constrained token needs a proof SASL cannot carry';
  return `introspection says token_type ${quote(tokenType)}: not a bearer access token`;
}
