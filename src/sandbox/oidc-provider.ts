/**
 * A real OpenID provider (oidc-provider from npm) on a loopback port, for `gatehouse sandbox`
 * and the tests. It answers a plain client-credentials POST (HTTP Basic client id/secret, no
 * resource parameter — what Kafka's Java login handler sends) with an RS256 `at+jwt` access
 * token carrying iss, sub, aud, exp, iat, client_id, a kid and the client's groups. Discovery
 * (`/.well-known/openid-configuration`) and the JWKS are served as by any OIDC provider.
 *
 * Clients may instead get opaque access tokens (`accessTokenFormat: 'opaque'`), which resource
 * servers check at the introspection endpoint (RFC 7662, `/token/introspection`, for the
 * configured `introspector` client); tokens can be revoked (RFC 7009, `/token/revocation`).
 *
 * `rotateKeys()` swaps in a provider with a new signing key on the same port (the old public key
 * stays published unless `dropOld`), as a real provider would rotate. `signingKey` is the
 * current private key, for tests that mint their own tokens.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type ProviderClass from 'oidc-provider';

/**
 * oidc-provider's two start-up warnings that do not apply here: Node 20 is not an LTS it lists
 * (it runs fine; Gatehouse supports Node 20), and the in-memory adapter, which is all a
 * client-credentials provider issuing JWT access tokens needs. Other warnings pass through.
 */
const EXPECTED_WARNINGS = ['Unsupported runtime', 'development-only in-memory adapter'];

/** Runs f (sync or async) with console.warn dropping the expected warnings. */
async function withoutExpectedWarnings<T>(f: () => T | Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    const first = args[0];
    if (typeof first === 'string' && first.includes('oidc-provider WARNING') && EXPECTED_WARNINGS.some((w) => first.includes(w))) return;
    warn.apply(console, args);
  };
  try {
    return await f();
  } finally {
    console.warn = warn;
  }
}

let providerModule: Promise<typeof ProviderClass> | undefined;

function loadProvider(): Promise<typeof ProviderClass> {
  // The runtime warning is printed while the module is evaluated.
  providerModule ??= withoutExpectedWarnings(async () => (await import('oidc-provider')).default);
  return providerModule;
}

export interface DemoClient {
  clientId: string;
  clientSecret: string;
  groups: string[];
  /** `opaque`: this client's access tokens are random strings, judged by introspection (default `jwt`). */
  accessTokenFormat?: 'jwt' | 'opaque';
  /** This client's access token lifetime, overriding the provider's. */
  accessTokenTtlSec?: number;
}

/** The sandbox's demo identities (authorization and masking give these groups their rights). */
export const DEMO_IDENTITIES: ReadonlyArray<{ clientId: string; groups: string[] }> = [
  { clientId: 'admin', groups: ['platform-admins'] },
  { clientId: 'payments-app', groups: ['payments-team'] },
  { clientId: 'analytics', groups: ['analytics'] },
  { clientId: 'auditor', groups: ['auditors'] },
];

/** The demo identities with fresh random secrets. */
export function demoClientsWithGeneratedSecrets(): DemoClient[] {
  return DEMO_IDENTITIES.map((c) => ({ clientId: c.clientId, clientSecret: randomBytes(18).toString('base64url'), groups: [...c.groups] }));
}

export interface SigningKey {
  kid: string;
  privateJwk: JWK;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
}

export interface OidcProviderOptions {
  clients: DemoClient[];
  /** The audience every access token carries (default `gatehouse`). */
  audience?: string;
  /** Access token lifetime (default 300 s). */
  accessTokenTtlSec?: number;
  /** Listen port on 127.0.0.1 (default 0: any free port). */
  port?: number;
  /** A client allowed to introspect any token (RFC 7662, `/token/introspection`), e.g. the proxy's. */
  introspector?: { clientId: string; clientSecret: string };
}

export interface OidcProvider {
  issuer: string;
  tokenEndpoint: string;
  jwksUri: string;
  audience: string;
  accessTokenTtlSec: number;
  clients: DemoClient[];
  /** Current signing key. */
  readonly signingKey: SigningKey;
  /** A real token from the token endpoint (client credentials, HTTP Basic). */
  token(clientId: string): Promise<string>;
  /** Revokes a token (RFC 7009) as the client it was issued to. */
  revoke(clientId: string, token: string): Promise<void>;
  /** New signing key; the old public key stays in the JWKS unless dropOld. */
  rotateKeys(opts?: { dropOld?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

let keyCounter = 0;

async function newKey(): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `k${++keyCounter}-${Date.now().toString(36)}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateJwk, privateKey };
}

/** POSTs a client-credentials request with HTTP Basic client authentication; returns the access token. */
export async function fetchClientCredentialsToken(tokenEndpoint: string, clientId: string, clientSecret: string): Promise<string> {
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  const json = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
  if (!res.ok || !json.access_token) throw new Error(`token request failed: ${res.status} ${json.error ?? ''} ${json.error_description ?? ''}`);
  return json.access_token;
}

export async function startOidcProvider(opts: OidcProviderOptions): Promise<OidcProvider> {
  const audience = opts.audience ?? 'gatehouse';
  const ttl = opts.accessTokenTtlSec ?? 300;
  const clients = opts.clients;
  const groupsOf = new Map(clients.map((c) => [c.clientId, c.groups]));
  const byId = new Map(clients.map((c) => [c.clientId, c]));
  const ttlOf = (clientId: string | undefined) => (clientId && byId.get(clientId)?.accessTokenTtlSec) || ttl;
  const registered = opts.introspector ? [...clients, { ...opts.introspector, groups: [] }] : clients;

  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  let keys: SigningKey[] = [await newKey()];
  const Provider = await loadProvider();

  const build = async (): Promise<void> => {
    const provider = await withoutExpectedWarnings(() => new Provider(issuer, {
      clients: registered.map((c) => ({
        client_id: c.clientId,
        client_secret: c.clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      })),
      jwks: { keys: keys.map((k) => k.privateJwk) as never },
      ttl: { ClientCredentials: (_ctx: unknown, _token: unknown, client: { clientId?: string } | undefined) => ttlOf(client?.clientId) },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: {
          enabled: true,
          // Only the configured introspector (the proxy) may ask about other clients' tokens.
          allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) =>
            client.clientId === opts.introspector?.clientId || client.clientId === token.clientId,
        },
        revocation: {
          enabled: true,
          allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => client.clientId === token.clientId,
        },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => 'urn:gatehouse:kafka',
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, _resource: string, client: { clientId: string }) => {
            const c = byId.get(client.clientId);
            return {
              scope: 'kafka',
              audience,
              accessTokenTTL: ttlOf(client.clientId),
              accessTokenFormat: c?.accessTokenFormat ?? 'jwt',
              ...(c?.accessTokenFormat === 'opaque' ? {} : { jwt: { sign: { alg: 'RS256' } } }),
            };
          },
        },
      },
      extraTokenClaims: (_ctx: unknown, token: unknown) => {
        const clientId = (token as { clientId?: string }).clientId;
        return { groups: (clientId && groupsOf.get(clientId)) ?? [] };
      },
    }));
    const cb = provider.callback();
    handler = (req, res) => void cb(req, res);
  };
  await build();

  const tokenEndpoint = `${issuer}/token`;
  return {
    issuer,
    tokenEndpoint,
    jwksUri: `${issuer}/jwks`,
    audience,
    accessTokenTtlSec: ttl,
    clients,
    get signingKey() {
      return keys[0]!;
    },
    async token(clientId: string): Promise<string> {
      const c = clients.find((x) => x.clientId === clientId);
      if (!c) throw new Error(`no demo client ${clientId}`);
      return fetchClientCredentialsToken(tokenEndpoint, c.clientId, c.clientSecret);
    },
    async revoke(clientId: string, token: string): Promise<void> {
      const c = clients.find((x) => x.clientId === clientId);
      if (!c) throw new Error(`no demo client ${clientId}`);
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
      if (!res.ok) throw new Error(`revocation failed: ${res.status} ${await res.text()}`);
    },
    async rotateKeys({ dropOld = false } = {}): Promise<void> {
      const fresh = await newKey();
      keys = dropOld ? [fresh] : [fresh, ...keys];
      await build();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
