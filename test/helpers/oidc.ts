/**
 * A real OpenID provider (oidc-provider from npm) on a loopback port for tests. It answers a
 * plain client-credentials POST (HTTP Basic client id/secret, no resource parameter — what
 * Kafka's Java login handler sends) with an RS256 `at+jwt` access token carrying iss, sub, aud,
 * exp, iat, client_id, a kid and the client's groups.
 *
 * `rotateKeys()` swaps in a provider with a new signing key on the same port (the old public key
 * stays published unless `dropOld`), as a real provider would rotate. `sign()` mints a token with
 * the provider's current private key and any claims/header, for the rejection tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';

export interface DemoClient {
  clientId: string;
  clientSecret: string;
  groups: string[];
}

export const DEMO_CLIENTS: DemoClient[] = [
  { clientId: 'admin', clientSecret: 'admin-secret', groups: ['platform-admins'] },
  { clientId: 'payments-app', clientSecret: 'payments-app-secret', groups: ['payments-team'] },
  { clientId: 'analytics', clientSecret: 'analytics-secret', groups: ['analytics'] },
  { clientId: 'auditor', clientSecret: 'auditor-secret', groups: ['auditors'] },
];

export interface TestOidc {
  issuer: string;
  tokenEndpoint: string;
  jwksUri: string;
  /** The audience every access token carries. */
  audience: string;
  clients: DemoClient[];
  /** A real token from the token endpoint (client credentials, HTTP Basic). */
  token(clientId: string): Promise<string>;
  /** Mints a token with the current private key; claims default to a valid token for `admin`. */
  sign(claims?: JWTPayload, header?: { alg?: string; kid?: string; typ?: string }): Promise<string>;
  /** Current signing key id. */
  readonly kid: string;
  /** New signing key; the old public key stays in the JWKS unless dropOld. */
  rotateKeys(opts?: { dropOld?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateJwk: JWK;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
}

let keyCounter = 0;

async function newKey(): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `k${++keyCounter}-${Date.now().toString(36)}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateJwk, privateKey };
}

export interface OidcOptions {
  audience?: string;
  accessTokenTtlSec?: number;
  clients?: DemoClient[];
}

export async function startOidc(opts: OidcOptions = {}): Promise<TestOidc> {
  const audience = opts.audience ?? 'gatehouse';
  const ttl = opts.accessTokenTtlSec ?? 300;
  const clients = opts.clients ?? DEMO_CLIENTS;
  const groupsOf = new Map(clients.map((c) => [c.clientId, c.groups]));

  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  let keys: SigningKey[] = [await newKey()];

  const build = (): void => {
    const provider = new Provider(issuer, {
      clients: clients.map((c) => ({
        client_id: c.clientId,
        client_secret: c.clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      })),
      jwks: { keys: keys.map((k) => k.privateJwk) as never },
      ttl: { ClientCredentials: ttl },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => 'urn:gatehouse:kafka',
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: 'kafka',
            audience,
            accessTokenTTL: ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      extraTokenClaims: (_ctx: unknown, token: unknown) => {
        const clientId = (token as { clientId?: string }).clientId;
        return { groups: (clientId && groupsOf.get(clientId)) ?? [] };
      },
    });
    const cb = provider.callback();
    handler = (req, res) => void cb(req, res);
  };
  build();

  const tokenEndpoint = `${issuer}/token`;
  return {
    issuer,
    tokenEndpoint,
    jwksUri: `${issuer}/jwks`,
    audience,
    clients,
    get kid() {
      return keys[0]!.kid;
    },
    async token(clientId: string): Promise<string> {
      const c = clients.find((x) => x.clientId === clientId);
      if (!c) throw new Error(`no demo client ${clientId}`);
      const res = await fetch(tokenEndpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      const json = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!res.ok || !json.access_token) throw new Error(`token request failed: ${res.status} ${json.error ?? ''} ${json.error_description ?? ''}`);
      return json.access_token;
    },
    async sign(claims: JWTPayload = {}, header: { alg?: string; kid?: string; typ?: string } = {}): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      const payload: JWTPayload = { iss: issuer, sub: 'admin', aud: audience, iat: now, exp: now + ttl, client_id: 'admin', groups: ['platform-admins'], ...claims };
      const k = keys[0]!;
      return new SignJWT(payload)
        .setProtectedHeader({ alg: header.alg ?? 'RS256', kid: header.kid ?? k.kid, typ: header.typ ?? 'at+jwt' })
        .sign(k.privateKey);
    },
    async rotateKeys({ dropOld = false } = {}): Promise<void> {
      const fresh = await newKey();
      keys = dropOld ? [fresh] : [fresh, ...keys];
      build();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
