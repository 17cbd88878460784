/**
 * Validates OIDC access tokens (JWTs) against trusted issuers: the issuer is chosen by the
 * token's `iss`, its keys come from the JWKS its discovery document names (or a configured
 * jwksUri), and jose checks signature, algorithm, iss, aud, exp and nbf. A new `kid` makes jose
 * refetch the JWKS, at most once per cooldown. Failures are TokenRejected with a short reason
 * that never quotes the token.
 */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { groupsFrom, principalFrom } from './claims.js';

export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

export interface IssuerSettings {
  issuer: string;
  audience: string | string[];
  /** Skip discovery and use this JWKS URL. */
  jwksUri?: string | undefined;
  principalClaim: string;
  groupsClaim: string;
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
}

export type RejectReason =
  | 'malformed'
  | 'alg not allowed'
  | 'unknown issuer'
  | 'wrong issuer'
  | 'wrong audience'
  | 'expired'
  | 'not yet valid'
  | 'bad signature'
  | 'missing claim'
  | 'issuer unavailable';

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
  principal: string;
  groups: string[];
  issuer: string;
  clientId: string | undefined;
  /** ms since epoch */
  expiresAt: number;
  claims: JWTPayload;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

class TrustedIssuer {
  private keys: Promise<KeySet> | undefined;
  constructor(
    readonly settings: IssuerSettings,
    private readonly v: ValidatorSettings,
  ) {}

  keySet(): Promise<KeySet> {
    this.keys ??= this.resolveKeys().catch((err: unknown) => {
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

  constructor(private readonly settings: ValidatorSettings) {
    for (const i of settings.issuers) this.issuers.set(i.issuer, new TrustedIssuer(i, settings));
  }

  async validate(token: string, now = Date.now()): Promise<ValidatedToken> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw new TokenRejected('malformed', 'not a signed JWT');
    }
    if (token.split('.').length !== 3) throw new TokenRejected('malformed', 'not a compact JWS');
    const alg = header.alg ?? 'none';
    if (!(this.settings.algorithms as readonly string[]).includes(alg)) {
      throw new TokenRejected('alg not allowed', `algorithm ${JSON.stringify(alg)} is not allowed`);
    }
    const iss = unverified.iss;
    if (typeof iss !== 'string') throw new TokenRejected('malformed', 'token has no iss claim');
    const trusted = this.issuers.get(iss);
    if (!trusted) throw new TokenRejected('unknown issuer', `issuer ${JSON.stringify(iss.slice(0, 200))} is not trusted`);

    let keys: KeySet;
    try {
      keys = await trusted.keySet();
    } catch (err) {
      throw new TokenRejected('issuer unavailable', `keys of ${iss} could not be fetched (${(err as Error).message})`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
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
    const principal = principalFrom(payload, trusted.settings.principalClaim);
    if (!principal) throw new TokenRejected('missing claim', `token has no ${trusted.settings.principalClaim} claim for the principal`);
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : undefined;
    return {
      principal,
      groups: groupsFrom(payload, trusted.settings.groupsClaim),
      issuer: iss,
      clientId,
      expiresAt: payload.exp! * 1000,
      claims: payload,
    };
  }
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
