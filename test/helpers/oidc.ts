/**
 * The OpenID provider of `gatehouse sandbox` (src/sandbox/oidc-provider.ts) for tests, with the
 * demo clients under fixed secrets, plus `sign()`: a token minted with the provider's current
 * private key and any claims/header, for the rejection tests.
 */
import { SignJWT, type JWTPayload } from 'jose';
import { oidcClientProperties } from '../../src/sandbox/client-properties.js';
import { DEMO_IDENTITIES, startOidcProvider, type DemoClient, type OidcProvider } from '../../src/sandbox/oidc-provider.js';

export type { DemoClient };

/** Kafka Java client properties for a demo client: OAUTHBEARER with the OIDC client-credentials login (KIP-768). */
export function javaOidcProperties(oidc: Pick<OidcProvider, 'tokenEndpoint' | 'clients'>, clientId: string): string[] {
  const c = oidc.clients.find((x) => x.clientId === clientId);
  if (!c) throw new Error(`no demo client ${clientId}`);
  return oidcClientProperties(oidc.tokenEndpoint, c.clientId, c.clientSecret);
}

export const DEMO_CLIENTS: DemoClient[] = DEMO_IDENTITIES.map((c) => ({ clientId: c.clientId, clientSecret: `${c.clientId}-secret`, groups: [...c.groups] }));

export interface TestOidc extends OidcProvider {
  /** Mints a token with the current private key; claims default to a valid token for `admin`. */
  sign(claims?: JWTPayload, header?: { alg?: string; kid?: string; typ?: string }): Promise<string>;
  /** Current signing key id. */
  readonly kid: string;
}

export interface OidcOptions {
  audience?: string;
  accessTokenTtlSec?: number;
  clients?: DemoClient[];
  introspector?: { clientId: string; clientSecret: string };
}

export async function startOidc(opts: OidcOptions = {}): Promise<TestOidc> {
  const provider = await startOidcProvider({ ...opts, clients: opts.clients ?? DEMO_CLIENTS });
  const ttl = provider.accessTokenTtlSec;
  const sign = async (claims: JWTPayload = {}, header: { alg?: string; kid?: string; typ?: string } = {}): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = { iss: provider.issuer, sub: 'admin', aud: provider.audience, iat: now, exp: now + ttl, client_id: 'admin', groups: ['platform-admins'], ...claims };
    const k = provider.signingKey;
    return new SignJWT(payload)
      .setProtectedHeader({ alg: header.alg ?? 'RS256', kid: header.kid ?? k.kid, typ: header.typ ?? 'at+jwt' })
      .sign(k.privateKey);
  };
  return {
    issuer: provider.issuer,
    tokenEndpoint: provider.tokenEndpoint,
    jwksUri: provider.jwksUri,
    audience: provider.audience,
    accessTokenTtlSec: ttl,
    clients: provider.clients,
    get signingKey() {
      return provider.signingKey;
    },
    get kid() {
      return provider.signingKey.kid;
    },
    token: (clientId) => provider.token(clientId),
    revoke: (clientId, token) => provider.revoke(clientId, token),
    rotateKeys: (o) => provider.rotateKeys(o),
    stop: () => provider.stop(),
    sign,
  };
}
