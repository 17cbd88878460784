/**
 * TokenValidator against real OpenID providers (oidc-provider on loopback ports): discovery or a
 * configured JWKS URL, several issuers, claim mapping, key rotation with the refetch cooldown,
 * and an issuer that cannot be reached.
 */
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOidc, type TestOidc } from '../../test/helpers/oidc.js';
import { TokenRejected, TokenValidator, type IssuerSettings, type ValidatorSettings } from './token-validator.js';
import { rejectionReason } from '../../test/helpers/token-reason.js';

const base: Omit<ValidatorSettings, 'issuers'> = {
  algorithms: ['RS256', 'ES256'],
  clockToleranceSec: 5,
  jwksCooldownMs: 30_000,
  jwksCacheMaxAgeMs: 600_000,
  httpTimeoutMs: 2_000,
};

const reason = rejectionReason;

describe('TokenValidator', () => {
  let a: TestOidc;
  let b: TestOidc;
  beforeAll(async () => {
    [a, b] = await Promise.all([startOidc({ audience: 'kafka-a' }), startOidc({ audience: 'kafka-b' })]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  const issuer = (o: TestOidc, extra: Partial<IssuerSettings> = {}): IssuerSettings => ({ issuer: o.issuer, audience: o.audience, principalClaim: 'sub', groupsClaim: 'groups', ...extra });

  it('trusts several issuers, each with its own audience and claim mapping', async () => {
    const v = new TokenValidator({ ...base, issuers: [issuer(a, { name: 'corp' }), issuer(b, { jwksUri: b.jwksUri, principalClaim: 'client_id', groupsClaim: 'scope' })] });
    const fromA = await v.validate(await a.token('payments-app'));
    expect(fromA).toMatchObject({ principal: 'payments-app', groups: ['payments-team'], issuer: a.issuer, source: 'corp', clientId: 'payments-app' });
    expect(fromA.expiresAt).toBeGreaterThan(Date.now());
    const fromB = await v.validate(await b.token('auditor'));
    // Without a name (never from a config file) the issuer stands for its source.
    expect(fromB).toMatchObject({ principal: 'auditor', groups: [], issuer: b.issuer, source: b.issuer });
    const scoped = await v.validate(await b.sign({ client_id: 'svc', scope: 'kafka:read  kafka:write' }));
    expect(scoped).toMatchObject({ principal: 'svc', groups: ['kafka:read', 'kafka:write'] });
    // B's audience is not A's.
    expect(await reason(v.validate(await a.sign({ aud: 'kafka-b' })))).toMatch(/^wrong audience/);
  });

  it('accepts a token within the clock tolerance and refuses one without exp or principal', async () => {
    const v = new TokenValidator({ ...base, issuers: [issuer(a)] });
    const now = Math.floor(Date.now() / 1000);
    expect(await reason(v.validate(await a.sign({ exp: now - 2 })))).toBe('accepted');
    expect(await reason(v.validate(await a.sign({ nbf: now + 2 })))).toBe('accepted');
    expect(await reason(v.validate(await a.sign({ exp: now - 20 })))).toMatch(/^expired/);
    expect(await reason(v.validate(await a.sign({ exp: undefined })))).toMatch(/^missing claim: token has no exp/);
    expect(await reason(v.validate(await a.sign({ sub: undefined })))).toMatch(/^missing claim: token has no sub/);
  });

  it('refetches keys for an unknown kid only after the cooldown', async () => {
    const o = await startOidc();
    try {
      // Long enough that a slow key rotation on a loaded machine stays within it.
      const v = new TokenValidator({ ...base, jwksCooldownMs: 2_500, issuers: [issuer(o)] });
      expect(await reason(v.validate(await o.token('admin')))).toBe('accepted');
      await o.rotateKeys({ dropOld: true });
      const fresh = await o.token('admin');
      expect(await reason(v.validate(fresh))).toMatch(/^bad signature: no key/);
      await new Promise((r) => setTimeout(r, 2_600));
      expect(await reason(v.validate(fresh))).toBe('accepted');
    } finally {
      await o.stop();
    }
  });

  it('says so when an issuer cannot be reached, and tries discovery again later', async () => {
    const o = await startOidc();
    const token = await o.token('admin');
    const v = new TokenValidator({ ...base, issuers: [issuer(o)] });
    await o.stop();
    expect(await reason(v.validate(token))).toMatch(/^issuer unavailable/);
    expect(await reason(v.validate(token))).toMatch(/^issuer unavailable/);
  });

  it("tells a wrong issuer (a trusted issuer's key, another iss) from an untrusted one", async () => {
    const v = new TokenValidator({ ...base, issuers: [issuer(a)] });
    expect(await reason(v.validate(await a.token('admin')))).toBe('accepted'); // keys fetched
    expect(await reason(v.validate(await a.sign({ iss: `${a.issuer}/evil` })))).toBe(
      `wrong issuer: token signed with a key of ${a.issuer} names issuer "${a.issuer}/evil"`,
    );
    expect(await reason(v.validate(await b.token('admin')))).toBe(`untrusted issuer: issuer "${b.issuer}" is not trusted`);
    // B's key with A's kid claiming A: a bad signature, not an issuer question.
    expect(await reason(v.validate(await b.sign({ iss: a.issuer, aud: a.audience }, { kid: a.kid })))).toMatch(/^bad signature/);
  });

  /** A token signed with the provider's key and no typ header at all. */
  const untyped = (o: TestOidc, claims: JWTPayload = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: o.issuer, sub: 'admin', aud: o.audience, iat: now, exp: now + 300, client_id: 'admin', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: o.kid })
      .sign(o.signingKey.privateKey);
  };
  /** What an OpenID provider's ID token for a client whose id is the proxy's audience looks like. */
  const idTokenClaims = (o: TestOidc): JWTPayload => ({ sub: 'admin', aud: o.audience, azp: o.audience, nonce: 'n-0S6_WzA2Mj', at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q', auth_time: Math.floor(Date.now() / 1000) - 5 });

  it('takes only access tokens: typ at+jwt (RFC 9068), not an ID token with a matching audience', async () => {
    const v = new TokenValidator({ ...base, issuers: [issuer(a)] });
    expect(await reason(v.validate(await a.token('admin')))).toBe('accepted'); // the provider's own: at+jwt
    for (const typ of ['at+jwt', 'application/at+jwt', 'AT+JWT']) expect(await reason(v.validate(await a.sign({}, { typ })))).toBe('accepted');
    expect(await reason(v.validate(await a.sign(idTokenClaims(a), { typ: 'JWT' })))).toBe(
      'wrong token type: typ "JWT" is not at+jwt (RFC 9068): not an access token (acceptPlainJwtAccessTokens accepts typ JWT)',
    );
    expect(await reason(v.validate(await a.sign({}, { typ: 'JWT' })))).toMatch(/^wrong token type: typ "JWT" is not at\+jwt/);
    expect(await reason(v.validate(await untyped(a)))).toMatch(/^wrong token type: token has no typ header; access tokens are typed at\+jwt/);
    expect(await reason(v.validate(await untyped(a, idTokenClaims(a))))).toMatch(/^wrong token type: token has no typ header/);
    expect(await reason(v.validate(await a.sign({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }, { typ: 'logout+jwt' })))).toMatch(/^wrong token type: typ "logout\+jwt"/);
    // The type is judged after the signature: a forged ID token is a bad signature.
    expect(await reason(v.validate(await b.sign({ ...idTokenClaims(a), iss: a.issuer }, { typ: 'JWT', kid: a.kid })))).toMatch(/^bad signature/);
  });

  it('with acceptPlainJwtAccessTokens, takes typ JWT and untyped access tokens but not what shows it is an ID or logout token', async () => {
    const v = new TokenValidator({ ...base, issuers: [issuer(a, { acceptPlainJwtAccessTokens: true })] });
    expect(await reason(v.validate(await a.token('admin')))).toBe('accepted');
    expect(await reason(v.validate(await a.sign({}, { typ: 'JWT' })))).toBe('accepted');
    expect(await reason(v.validate(await a.sign({}, { typ: 'application/jwt' })))).toBe('accepted');
    expect(await reason(v.validate(await untyped(a)))).toBe('accepted');
    // ID tokens: nonce, at_hash, c_hash are claims of ID tokens only (OpenID Connect Core).
    expect(await reason(v.validate(await a.sign(idTokenClaims(a), { typ: 'JWT' })))).toBe('wrong token type: token carries nonce, a claim of ID tokens: not an access token');
    expect(await reason(v.validate(await untyped(a, { at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' })))).toBe('wrong token type: token carries at_hash, a claim of ID tokens: not an access token');
    expect(await reason(v.validate(await untyped(a, { c_hash: 'LDktKdoQak3Pk0cnXxCltA' })))).toMatch(/^wrong token type: token carries c_hash/);
    // Logout tokens and other explicitly typed JWTs.
    expect(await reason(v.validate(await a.sign({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }, { typ: 'JWT' })))).toMatch(/^wrong token type: token carries events: a security event/);
    expect(await reason(v.validate(await a.sign({}, { typ: 'logout+jwt' })))).toBe('wrong token type: typ "logout+jwt" is not an access token type');
    expect(await reason(v.validate(await a.sign({}, { typ: 'dpop+jwt' })))).toMatch(/^wrong token type: typ "dpop\+jwt"/);
    // Keycloak's typ claim decides: Bearer is an access token (older releases put nonce in those too), ID and Refresh are not.
    expect(await reason(v.validate(await a.sign({ typ: 'Bearer', nonce: 'n-1', azp: 'cli' }, { typ: 'JWT' })))).toBe('accepted');
    expect(await reason(v.validate(await a.sign({ typ: 'ID', azp: a.audience }, { typ: 'JWT' })))).toBe('wrong token type: the token\'s typ claim "ID" says it is not an access token');
    expect(await reason(v.validate(await a.sign({ typ: 'Refresh' }, { typ: 'JWT' })))).toMatch(/^wrong token type: the token's typ claim "Refresh"/);
    // The option is per issuer: B still wants at+jwt.
    const both = new TokenValidator({ ...base, issuers: [issuer(a, { acceptPlainJwtAccessTokens: true }), issuer(b)] });
    expect(await reason(both.validate(await a.sign({}, { typ: 'JWT' })))).toBe('accepted');
    expect(await reason(both.validate(await b.sign({}, { typ: 'JWT' })))).toMatch(/^wrong token type/);
  });

  it('refuses algorithms outside the list before fetching anything', async () => {
    const v = new TokenValidator({ ...base, algorithms: ['ES256'], issuers: [issuer(a)] });
    expect(await reason(v.validate(await a.token('admin')))).toBe('alg not allowed: algorithm "RS256" is not allowed');
  });
});
