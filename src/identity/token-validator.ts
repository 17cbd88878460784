/**
 * Validates OIDC access tokens (JWTs) against trusted issuers: the issuer is chosen by the
 * token's `iss`, its keys come from the JWKS its discovery document names (or a configured
 * jwksUri), and jose checks signature, algorithm, iss, aud, exp and nbf. A new `kid` makes jose
 * refetch the JWKS, at most once per cooldown. A token whose `iss` is not trusted is a `wrong
 * issuer` when a trusted issuer's key signed it, else an `untrusted issuer`. Opaque tokens (and
 * every token of an issuer set to `always`) go to RFC 7662 introspection (introspection.ts),
 * whose results are cached briefly. Only access tokens pass (token-type.ts): a JWT must be typed
 * `at+jwt` (RFC 9068) unless its issuer has `acceptPlainJwtAccessTokens`, and an introspection
 * answer's `token_type` must be a bearer access token's. Failures are TokenRejected with a short
 * reason that never quotes the token.
 */
import { compactVerify, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { IntrospectionCache } from './introspection-cache.js';
import { Introspector, type IntrospectionSettings } from './introspection.js';
import { TokenRejected, validatedFromClaims, type ValidatedToken } from './token-result.js';
import { jwtTypeProblem } from './token-type.js';

export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

export interface IssuerSettings {
  issuer: string;
  /** The issuer's source name (src/identity/sources.ts); absent: the issuer URL stands for it. */
  name?: string | undefined;
  audience: string | string[];
  /** Skip discovery and use this JWKS URL. */
  jwksUri?: string | undefined;
  principalClaim: string;
  groupsClaim: string;
  /** RFC 7662 introspection for opaque tokens (or every token with `always`). */
  introspection?: IntrospectionSettings | undefined;
  /**
   * Also accept JWT access tokens typed `JWT` or untyped (not RFC 9068's `at+jwt`), for providers
   * that issue such; tokens that show they are ID or logout tokens are still refused.
   */
  acceptPlainJwtAccessTokens?: boolean | undefined;
}

export interface ValidatorSettings {
  issuers: IssuerSettings[];
  algorithms: readonly AsymmetricAlgorithm[];
  clockToleranceSec: number;
  /** Least time between two JWKS fetches for one issuer (an unknown kid waits this long). */
  jwksCooldownMs: number;
  /** How long fetched keys are trusted before a refetch. */
  jwksCacheMaxAgeMs: number;
  httpTimeoutMs: number;
  /** How long an introspection result is reused (never past the token's expiry); 0: not cached. */
  introspectionCacheMs?: number;
  /** Most introspection results kept. */
  introspectionCacheEntries?: number;
}

export { TokenRejected, type RejectReason, type ValidatedToken } from './token-result.js';

type KeySet = ReturnType<typeof createRemoteJWKSet>;

class TrustedIssuer {
  private keys: Promise<KeySet> | undefined;
  /** The key set once discovery has succeeded (for telling a wrong issuer from an untrusted one without new requests). */
  loaded: KeySet | undefined;
  constructor(
    readonly settings: IssuerSettings,
    private readonly v: ValidatorSettings,
  ) {}

  keySet(): Promise<KeySet> {
    this.keys ??= this.resolveKeys().then((k) => (this.loaded = k)).catch((err: unknown) => {
      this.keys = undefined; // try discovery again next time
      throw err;
    });
    return this.keys;
  }

  private async resolveKeys(): Promise<KeySet> {
    let uri = this.settings.jwksUri;
    if (!uri) {
      const url = new URL(this.settings.issuer);
      const cfg = await oidc.discovery(url, 'gatehouse', undefined, undefined, {
        timeout: Math.ceil(this.v.httpTimeoutMs / 1000),
        ...(url.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      uri = cfg.serverMetadata().jwks_uri;
      if (!uri) throw new Error(`issuer ${this.settings.issuer} publishes no jwks_uri`);
    }
    return createRemoteJWKSet(new URL(uri), {
      cooldownDuration: this.v.jwksCooldownMs,
      cacheMaxAge: this.v.jwksCacheMaxAgeMs,
      timeoutDuration: this.v.httpTimeoutMs,
    });
  }
}

export class TokenValidator {
  private readonly issuers = new Map<string, TrustedIssuer>();
  private readonly introspectors = new Map<string, Introspector>();
  private readonly cache: IntrospectionCache;
  /** Introspections under way, so that a client opening several connections with one token asks once. */
  private readonly inflight = new Map<string, Promise<ValidatedToken>>();

  constructor(private readonly settings: ValidatorSettings) {
    for (const i of settings.issuers) {
      this.issuers.set(i.issuer, new TrustedIssuer(i, settings));
      if (i.introspection) {
        const introspection = i.introspection;
        this.introspectors.set(i.issuer, new Introspector({ ...i, introspection }, { timeoutMs: settings.httpTimeoutMs, clockToleranceSec: settings.clockToleranceSec }));
      }
    }
    this.cache = new IntrospectionCache(settings.introspectionCacheMs ?? 60_000, settings.introspectionCacheEntries ?? 10_000);
  }

  async validate(token: string, now = Date.now()): Promise<ValidatedToken> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      if (token.split('.').length !== 3) throw new Error('not a compact JWS');
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      // Not a JWT: an opaque token, which only the issuers' introspection endpoints can judge.
      if (this.introspectors.size > 0) return this.introspectOpaque(token, now);
      throw new TokenRejected('malformed', 'not a signed JWT');
    }
    const iss = unverified.iss;
    const always = typeof iss === 'string' ? this.introspectors.get(iss) : undefined;
    if (always?.settings.introspection.always) {
      const settings = this.issuers.get(always.issuer)!.settings;
      return this.cached(token, now, async () => {
        const t = await always.introspect(token, now);
        // Active at the issuer does not make it an access token: an ID token may be active too.
        checkJwtType(header.typ, t.claims, settings);
        return t;
      });
    }
    const alg = header.alg ?? 'none';
    if (!(this.settings.algorithms as readonly string[]).includes(alg)) {
      throw new TokenRejected('alg not allowed', `algorithm ${JSON.stringify(alg)} is not allowed`);
    }
    if (typeof iss !== 'string') throw new TokenRejected('malformed', 'token has no iss claim');
    const trusted = this.issuers.get(iss);
    if (!trusted) {
      const signer = await this.trustedSigner(token);
      if (signer) throw new TokenRejected('wrong issuer', `token signed with a key of ${signer} names issuer ${JSON.stringify(iss.slice(0, 200))}`);
      throw new TokenRejected('untrusted issuer', `issuer ${JSON.stringify(iss.slice(0, 200))} is not trusted`);
    }

    let keys: KeySet;
    try {
      keys = await trusted.keySet();
    } catch (err) {
      throw new TokenRejected('issuer unavailable', `keys of ${iss} could not be fetched (${(err as Error).message})`);
    }
    let payload: JWTPayload;
    let typ: unknown;
    try {
      ({ payload, protectedHeader: { typ } } = await jwtVerify(token, keys, {
        issuer: trusted.settings.issuer,
        audience: trusted.settings.audience,
        algorithms: [...this.settings.algorithms],
        clockTolerance: this.settings.clockToleranceSec,
        requiredClaims: ['exp'],
        currentDate: new Date(now),
      }));
    } catch (err) {
      throw mapJoseError(err, iss);
    }
    checkJwtType(typ, payload, trusted.settings);
    return validatedFromClaims(payload, iss, trusted.settings);
  }

  /**
   * The trusted issuer whose (already fetched) keys verify this token's signature, if any: such a
   * token was issued by a trusted issuer yet names another `iss` — a wrong issuer, not a stranger.
   */
  private async trustedSigner(token: string): Promise<string | undefined> {
    for (const t of this.issuers.values()) {
      if (!t.loaded) continue;
      try {
        await compactVerify(token, t.loaded, { algorithms: [...this.settings.algorithms] });
        return t.settings.issuer;
      } catch {
        // not this one
      }
    }
    return undefined;
  }

  /** An opaque token: each issuer with introspection is asked in turn; the first that knows it decides. */
  private introspectOpaque(token: string, now: number): Promise<ValidatedToken> {
    return this.cached(token, now, async () => {
      let unavailable: TokenRejected | undefined;
      for (const i of this.introspectors.values()) {
        try {
          return await i.introspect(token, now);
        } catch (err) {
          if (!(err instanceof TokenRejected)) throw err;
          if (err.reason === 'issuer unavailable') unavailable ??= err;
          else if (err.reason !== 'inactive') throw err;
        }
      }
      if (unavailable) throw unavailable;
      const names = [...this.introspectors.keys()].join(', ');
      throw new TokenRejected('inactive', `not a JWT, and not active at ${this.introspectors.size === 1 ? '' : 'any of '}${names} (expired, revoked or unknown)`);
    });
  }

  private async cached(token: string, now: number, ask: () => Promise<ValidatedToken>): Promise<ValidatedToken> {
    const key = IntrospectionCache.key(token);
    const hit = this.cache.get(key, now);
    if (hit instanceof TokenRejected) throw hit;
    if (hit) return hit;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = ask().then(
      (t) => {
        this.cache.set(key, t, now);
        return t;
      },
      (err: unknown) => {
        if (err instanceof TokenRejected) this.cache.set(key, err, now);
        throw err;
      },
    );
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }
}

/** Refuses a (verified) JWT that is not an access token: an ID token, a logout token, or untyped where at+jwt is required. */
function checkJwtType(typ: unknown, claims: JWTPayload, settings: IssuerSettings): void {
  const problem = jwtTypeProblem(typ, claims, settings.acceptPlainJwtAccessTokens ?? false);
  if (problem) throw new TokenRejected('wrong token type', problem);
}

function mapJoseError(err: unknown, iss: string): TokenRejected {
  if (err instanceof errors.JWTExpired) return new TokenRejected('expired', `token expired at ${isoOf(err.payload.exp)}`);
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf':
        return new TokenRejected('not yet valid', `token is not valid before ${isoOf(err.payload.nbf)}`);
      case 'iat':
        return new TokenRejected('not yet valid', 'token is issued in the future');
      case 'aud':
        return new TokenRejected('wrong audience', 'token is not meant for this proxy (aud)');
      case 'iss':
        return new TokenRejected('wrong issuer', `token issuer does not match ${iss}`);
      case 'exp':
        return new TokenRejected('missing claim', 'token has no exp claim');
      default:
        return new TokenRejected('malformed', `claim ${err.claim} ${err.reason}`);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenRejected('bad signature', 'signature verification failed');
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenRejected('bad signature', `no key of ${iss} matches the token's kid`);
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenRejected('alg not allowed', 'algorithm is not allowed');
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return new TokenRejected('issuer unavailable', `keys of ${iss} could not be fetched`);
  if (err instanceof errors.JOSEError) return new TokenRejected('malformed', err.code);
  return new TokenRejected('issuer unavailable', (err as Error)?.message ?? String(err));
}

function isoOf(sec: unknown): string {
  return typeof sec === 'number' ? new Date(sec * 1000).toISOString() : 'an unknown time';
}
