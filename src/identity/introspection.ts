/**
 * RFC 7662 token introspection for one trusted issuer, with openid-client: the proxy
 * authenticates to the issuer's introspection endpoint (configured, or from its discovery
 * document) with its own client id and secret (HTTP Basic) and asks whether a token is active.
 * An active token's response claims (sub, client_id, exp, scope, groups, aud, iss …) are checked
 * and mapped to the principal exactly like a JWT's; `active: false` is TokenRejected('inactive').
 * A `token_type` other than a bearer access token's (`Bearer`, `access_token`; see token-type.ts)
 * is TokenRejected('wrong token type'). Results are cached by the validator (IntrospectionCache),
 * never here.
 */
import * as oidc from 'openid-client';
import { TokenRejected, validatedFromClaims, type ValidatedToken } from './token-result.js';
import { introspectedTypeProblem } from './token-type.js';

export interface IntrospectionSettings {
  /** The introspection endpoint; when absent, `introspection_endpoint` from discovery. */
  endpoint?: string | undefined;
  clientId: string;
  clientSecret: string;
  /** Introspect every token of this issuer, JWTs too, instead of checking JWTs locally. */
  always: boolean;
}

export interface IntrospectedIssuer {
  issuer: string;
  /** The issuer's source name (src/identity/sources.ts); absent: the issuer URL stands for it. */
  name?: string | undefined;
  audience: string | string[];
  principalClaim: string;
  groupsClaim: string;
  introspection: IntrospectionSettings;
}

export class Introspector {
  private config: Promise<oidc.Configuration> | undefined;

  constructor(
    readonly settings: IntrospectedIssuer,
    private readonly http: { timeoutMs: number; clockToleranceSec: number },
  ) {}

  get issuer(): string {
    return this.settings.issuer;
  }

  /** Asks the issuer about `token`: a ValidatedToken when active and acceptable, else TokenRejected. */
  async introspect(token: string, now = Date.now()): Promise<ValidatedToken> {
    let config: oidc.Configuration;
    try {
      config = await this.configuration();
    } catch (err) {
      throw new TokenRejected('issuer unavailable', `introspection endpoint of ${this.issuer} could not be found (${(err as Error).message})`);
    }
    let res: oidc.IntrospectionResponse;
    try {
      res = await oidc.tokenIntrospection(config, token, { token_type_hint: 'access_token' });
    } catch (err) {
      throw new TokenRejected('issuer unavailable', `introspection at ${this.issuer} failed (${describe(err)})`);
    }
    if (res.active !== true) throw new TokenRejected('inactive', `${this.issuer} says the token is not active (expired, revoked or unknown)`);
    return this.check(res as unknown as Record<string, unknown>, now);
  }

  private check(claims: Record<string, unknown>, now: number): ValidatedToken {
    const s = this.settings;
    const tol = this.http.clockToleranceSec * 1000;
    if (claims.iss !== undefined && claims.iss !== s.issuer) {
      throw new TokenRejected('wrong issuer', `introspection at ${s.issuer} names another issuer (${JSON.stringify(String(claims.iss).slice(0, 200))})`);
    }
    const typeProblem = introspectedTypeProblem(claims.token_type);
    if (typeProblem) throw new TokenRejected('wrong token type', typeProblem);
    const wanted = Array.isArray(s.audience) ? s.audience : [s.audience];
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!aud.some((a) => wanted.includes(a as string))) throw new TokenRejected('wrong audience', 'token is not meant for this proxy (aud)');
    const t = validatedFromClaims(claims, s.issuer, s);
    if (t.expiresAt + tol <= now) throw new TokenRejected('expired', `token expired at ${new Date(t.expiresAt).toISOString()}`);
    if (typeof claims.nbf === 'number' && claims.nbf * 1000 - tol > now) {
      throw new TokenRejected('not yet valid', `token is not valid before ${new Date(claims.nbf * 1000).toISOString()}`);
    }
    return t;
  }

  private configuration(): Promise<oidc.Configuration> {
    this.config ??= this.resolve().catch((err: unknown) => {
      this.config = undefined; // try again next time
      throw err;
    });
    return this.config;
  }

  private async resolve(): Promise<oidc.Configuration> {
    const { issuer, introspection: i } = this.settings;
    const auth = oidc.ClientSecretBasic(i.clientSecret);
    const timeout = Math.max(1, Math.ceil(this.http.timeoutMs / 1000));
    let config: oidc.Configuration;
    if (i.endpoint) {
      config = new oidc.Configuration({ issuer, introspection_endpoint: i.endpoint }, i.clientId, undefined, auth);
      if (new URL(i.endpoint).protocol === 'http:') oidc.allowInsecureRequests(config);
    } else {
      const insecure = new URL(issuer).protocol === 'http:';
      config = await oidc.discovery(new URL(issuer), i.clientId, undefined, auth, {
        timeout,
        ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      if (!config.serverMetadata().introspection_endpoint) throw new Error(`issuer ${issuer} publishes no introspection_endpoint`);
    }
    config.timeout = timeout;
    return config;
  }
}

function describe(err: unknown): string {
  if (err instanceof oidc.ResponseBodyError) return `${err.status} ${err.error}${err.error_description ? `: ${err.error_description}` : ''}`;
  if (err instanceof oidc.WWWAuthenticateChallengeError) return `${err.status} ${err.cause[0]?.parameters.error ?? 'challenge'}`;
  return (err as Error)?.message ?? String(err);
}
