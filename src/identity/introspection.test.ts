/**
 * RFC 7662 introspection through TokenValidator against a real OpenID provider (oidc-provider
 * issuing opaque access tokens to some clients, with its introspection endpoint on): claims map
 * like a JWT's, inactive (revoked, expired, unknown) tokens are refused with their reason, results
 * are cached until at most the token's expiry, and a wrong introspection secret says so.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, startOidc, type TestOidc } from '../../test/helpers/oidc.js';
import { IntrospectionCache } from './introspection-cache.js';
import { TokenRejected, type ValidatedToken } from './token-result.js';
import { TokenValidator, type IssuerSettings, type ValidatorSettings } from './token-validator.js';
import { rejectionReason } from '../../test/helpers/token-reason.js';

const base: Omit<ValidatorSettings, 'issuers'> = {
  algorithms: ['RS256'],
  clockToleranceSec: 0,
  jwksCooldownMs: 30_000,
  jwksCacheMaxAgeMs: 600_000,
  httpTimeoutMs: 2_000,
};

const reason = rejectionReason;

const introspector = { clientId: 'gatehouse', clientSecret: 'gatehouse-introspection-secret' };

describe('introspection', () => {
  let o: TestOidc;
  beforeAll(async () => {
    o = await startOidc({
      introspector,
      clients: [
        ...DEMO_CLIENTS,
        { clientId: 'opaque-app', clientSecret: 'opaque-secret', groups: ['payments-team'], accessTokenFormat: 'opaque' },
        { clientId: 'brief-app', clientSecret: 'brief-secret', groups: [], accessTokenFormat: 'opaque', accessTokenTtlSec: 1 },
      ],
    });
  });
  afterAll(async () => {
    await o?.stop();
  });

  const issuer = (extra: Partial<IssuerSettings> = {}): IssuerSettings => ({
    issuer: o.issuer,
    audience: o.audience,
    principalClaim: 'client_id',
    groupsClaim: 'groups',
    introspection: { ...introspector, always: false },
    ...extra,
  });

  it('maps an active opaque token to the principal like a JWT, and still checks JWTs locally', async () => {
    const v = new TokenValidator({ ...base, issuers: [issuer()] });
    const opaque = await o.token('opaque-app');
    expect(opaque.split('.')).toHaveLength(1);
    const t = await v.validate(opaque);
    expect(t).toMatchObject({ principal: 'opaque-app', groups: ['payments-team'], issuer: o.issuer, clientId: 'opaque-app' });
    expect(t.claims).toMatchObject({ active: true, aud: o.audience, iss: o.issuer });
    expect(t.expiresAt).toBeGreaterThan(Date.now() + 200_000);
    expect(await v.validate(await o.token('admin'))).toMatchObject({ principal: 'admin', groups: ['platform-admins'] });
  });

  it('refuses revoked, expired and unknown opaque tokens as inactive; the endpoint can come from config', async () => {
    const v = new TokenValidator({ ...base, introspectionCacheMs: 0, issuers: [issuer({ introspection: { ...introspector, always: false, endpoint: `${o.issuer}/token/introspection` } })] });
    const revoked = await o.token('opaque-app');
    expect(await reason(v.validate(revoked))).toBe('accepted');
    await o.revoke('opaque-app', revoked);
    expect(await reason(v.validate(revoked))).toMatch(/^inactive: not a JWT, and not active at http:\/\/127\.0\.0\.1:\d+ \(expired, revoked or unknown\)/);
    const brief = await o.token('brief-app');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await reason(v.validate(brief))).toMatch(/^inactive/);
    expect(await reason(v.validate('no-such-token-at-all'))).toMatch(/^inactive/);
  });

  it('caches an active result for the configured time, never past the token expiry', async () => {
    const v = new TokenValidator({ ...base, introspectionCacheMs: 60_000, issuers: [issuer()] });
    const tok = await o.token('opaque-app');
    expect(await reason(v.validate(tok))).toBe('accepted');
    await o.revoke('opaque-app', tok);
    // Still cached: the revocation shows once the cache entry lapses.
    expect(await reason(v.validate(tok))).toBe('accepted');
    const brief = await o.token('brief-app');
    const t = await v.validate(brief);
    // Past the expiry the cache does not answer: the issuer is asked again, and exp is checked.
    expect(await reason(v.validate(brief, t.expiresAt + 10))).toMatch(/^expired: token expired at /);

    // Concurrent checks of one token share one introspection.
    const fresh = await o.token('opaque-app');
    const [x, y] = await Promise.all([v.validate(fresh), v.validate(fresh)]);
    expect(x).toBe(y);

    const cache = new IntrospectionCache(1_000, 2);
    const ok = (exp: number): ValidatedToken => ({ principal: 'p', groups: [], issuer: 'i', source: 'i', clientId: undefined, expiresAt: exp, claims: {} });
    cache.set('a', ok(5_000), 0);
    expect(cache.get('a', 999)).toBeDefined();
    expect(cache.get('a', 1_000)).toBeUndefined(); // the configured time
    cache.set('b', ok(500), 0);
    expect(cache.get('b', 499)).toBeDefined();
    expect(cache.get('b', 500)).toBeUndefined(); // the token's expiry
    cache.set('c', new TokenRejected('issuer unavailable', 'x'), 0);
    expect(cache.get('c', 1)).toBeUndefined(); // outages are not remembered
    for (const k of ['d', 'e', 'f']) cache.set(k, ok(5_000), 0);
    expect(cache.size).toBe(2);
    expect(cache.get('d', 1)).toBeUndefined(); // the oldest went
  });

  it('says so when the introspection credentials are wrong, and when no issuer introspects', async () => {
    const v = new TokenValidator({ ...base, issuers: [issuer({ introspection: { clientId: 'gatehouse', clientSecret: 'wrong', always: false } })] });
    expect(await reason(v.validate(await o.token('opaque-app')))).toMatch(/^issuer unavailable: introspection at http:\/\/127\.0\.0\.1:\d+ failed \(401 invalid_client/);
    const jwtOnly = new TokenValidator({ ...base, issuers: [issuer({ introspection: undefined })] });
    expect(await reason(jwtOnly.validate(await o.token('opaque-app')))).toBe('malformed: not a signed JWT');
  });

  it('refuses an active token for another audience', async () => {
    const v = new TokenValidator({ ...base, issuers: [issuer({ audience: 'other-service' })] });
    expect(await reason(v.validate(await o.token('opaque-app')))).toBe('wrong audience: token is not meant for this proxy (aud)');
  });

  it("refuses an active token whose token_type is no bearer access token's (RFC 7662 §2.2)", async () => {
    // The real provider answers token_type "Bearer" for its access tokens.
    const v0 = new TokenValidator({ ...base, introspectionCacheMs: 0, issuers: [issuer()] });
    const opaque = await o.token('opaque-app');
    expect(await v0.validate(opaque)).toMatchObject({ claims: { token_type: 'Bearer' } });
    // An endpoint answering each opaque token "tt<i>" with token_type types[i] (undefined: none).
    const types = [
      'Bearer', 'bearer', 'access_token', 'urn:ietf:params:oauth:token-type:access_token', undefined,
      'refresh_token', 'id_token', 'urn:ietf:params:oauth:token-type:id_token', 'N_A', 'DPoP', 'logout_token', 42,
    ];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const i = Number((new URLSearchParams(body).get('token') ?? '').slice(2));
        const exp = Math.floor(Date.now() / 1000) + 300;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ active: true, iss: o.issuer, aud: o.audience, client_id: 'opaque-app', exp, token_type: types[i] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
      const v = new TokenValidator({ ...base, introspectionCacheMs: 0, issuers: [issuer({ introspection: { ...introspector, endpoint, always: false } })] });
      const got = await Promise.all(types.map(async (_t, i) => reason(v.validate(`tt${i}`))));
      expect(Object.fromEntries(types.map((t, i) => [String(t), got[i]]))).toEqual({
        Bearer: 'accepted',
        bearer: 'accepted',
        access_token: 'accepted',
        'urn:ietf:params:oauth:token-type:access_token': 'accepted',
        undefined: 'accepted',
        refresh_token: 'wrong token type: introspection says token_type "refresh_token": not a bearer access token',
        id_token: 'wrong token type: introspection says token_type "id_token": not a bearer access token',
        'urn:ietf:params:oauth:token-type:id_token': 'wrong token type: introspection says token_type "urn:ietf:params:oauth:token-type:id_token": not a bearer access token',
        N_A: 'wrong token type: introspection says token_type "N_A": not a bearer access token',
        DPoP: 'wrong token type: introspection says token_type "DPoP": a sender-constrained token needs a proof SASL cannot carry',
        logout_token: 'wrong token type: introspection says token_type "logout_token": not a bearer access token',
        42: 'wrong token type: introspection answered a token_type that is not a string',
      });
    } finally {
      server.close();
    }
  });

  it('with `always`, JWTs of that issuer are introspected too (a revoked JWT is refused)', async () => {
    // oidc-provider refuses to introspect JWTs, as many providers do; this endpoint answers like one that does.
    const revoked = new Set<string>();
    const asked: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const token = new URLSearchParams(body).get('token') ?? '';
        asked.push(`${req.headers.authorization}|${token.slice(0, 10)}`);
        const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}') as Record<string, unknown>;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(revoked.has(token) ? { active: false } : { active: true, ...claims }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
      const v = new TokenValidator({ ...base, introspectionCacheMs: 0, issuers: [issuer({ introspection: { ...introspector, endpoint, always: true } })] });
      const jwt = await o.token('admin');
      expect(await v.validate(jwt)).toMatchObject({ principal: 'admin', groups: ['platform-admins'], issuer: o.issuer });
      expect(asked).toHaveLength(1);
      const [auth, prefix] = asked[0]!.split('|');
      // HTTP Basic with the form-encoded id and secret (RFC 6749 2.3.1).
      expect(Buffer.from(auth!.replace(/^Basic /, ''), 'base64').toString().split(':').map(decodeURIComponent)).toEqual(['gatehouse', 'gatehouse-introspection-secret']);
      expect(prefix).toBe(jwt.slice(0, 10));
      revoked.add(jwt);
      expect(await reason(v.validate(jwt))).toMatch(/^inactive: http:\/\/127\.0\.0\.1:\d+ says the token is not active/);
      // Active is not enough: an ID token (typ JWT) is refused unless the issuer accepts plain JWT access tokens.
      const idToken = await o.sign({ nonce: 'n-1', azp: o.audience }, { typ: 'JWT' });
      expect(await reason(v.validate(idToken))).toMatch(/^wrong token type: typ "JWT" is not at\+jwt/);
      const plain = new TokenValidator({ ...base, introspectionCacheMs: 0, issuers: [issuer({ introspection: { ...introspector, endpoint, always: true }, acceptPlainJwtAccessTokens: true })] });
      expect(await reason(plain.validate(await o.sign({}, { typ: 'JWT' })))).toBe('accepted');
      expect(await reason(plain.validate(idToken))).toMatch(/^wrong token type: token carries nonce/);
    } finally {
      server.close();
    }
  });
});
