/**
 * Client authentication through the proxy against a real OpenID provider (oidc-provider) and the
 * real broker: kafkajs with an oauthBearerProvider fetching its own token, SASL exchanges at the
 * protocol level for every rejection reason, session expiry and re-authentication (KIP-368), and
 * key rotation at the provider. A recorder placed after the identity stage proves that nothing
 * from a rejected connection reaches the broker. A rejected client hears only "Authentication
 * failed"; the reason is in the log and, for the audit, on the connection (getAuthFailure).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import type { MetadataResponse } from '../../protocol/generated/metadata-response.js';
import type { SaslAuthenticateResponse } from '../../protocol/generated/sasl-authenticate-response.js';
import { getAuthFailure, getPrincipal, SaslError, type AuthFailure, type Principal } from '../../src/identity/index.js';
import type { ConnectionInfo } from '../../src/stage/connection-info.js';
import type { InterceptedRequest, InterceptedResponse, Stage } from '../../src/stage/stage.js';
import { connIdOf, kafkaClient, kafkajsRoundTrip, uniqueName, waitFor } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { saslUpstream } from '../helpers/upstream-account.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
/** The proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();

/** Every request that got past the identity stage, i.e. went to the broker, with its principal. */
class ForwardRecorder implements Stage {
  readonly name = 'forward-recorder';
  readonly interest = { requests: 'all' as const };
  readonly seen: Array<{ conn: string; api: string; principal: Principal | undefined }> = [];
  readonly conns = new Map<string, ConnectionInfo>();
  onRequest(req: InterceptedRequest): void {
    this.conns.set(req.connection.id, req.connection);
    this.seen.push({ conn: req.connection.id, api: req.header.apiName, principal: getPrincipal(req.connection) });
  }
  forConn(id: string | undefined): string[] {
    return this.seen.filter((s) => s.conn === id).map((s) => s.api);
  }
}

/** The SaslAuthenticate answers as a stage after the identity stage (the audit, say) sees them, with the connection's AuthFailure. */
class AuthAnswerRecorder implements Stage {
  readonly name = 'auth-answer-recorder';
  readonly interest = { responses: new Set<number>([ApiKey.SaslAuthenticate]) };
  readonly seen: Array<{ conn: string; errorCode: number; errorMessage: string | null; failure: AuthFailure | undefined }> = [];
  onResponse(res: InterceptedResponse): void {
    const body = res.body() as SaslAuthenticateResponse;
    this.seen.push({ conn: res.request.connection.id, errorCode: body.errorCode, errorMessage: body.errorMessage, failure: getAuthFailure(res.request.connection) });
  }
}

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('identity: OIDC tokens over SASL', () => {
  let oidc: TestOidc;
  let stranger: TestOidc;
  let gh: TestProxy;
  const recorder = new ForwardRecorder();
  const answers = new AuthAnswerRecorder();

  beforeAll(async () => {
    [oidc, stranger] = await Promise.all([startOidc(), startOidc()]);
    const identity = {
      issuers: [{ issuer: oidc.issuer, audience: oidc.audience }],
      clockToleranceSec: 5,
      jwksCooldownMs: 300,
    };
    gh = await startProxy(upstream.bootstrap, { upstream: { sasl: upstream.sasl }, identity }, { extraStages: [recorder, answers] });
  });
  afterAll(async () => {
    await gh?.stop();
    await Promise.all([oidc?.stop(), stranger?.stop()]);
  });

  const metadata = (c: RawClient) => c.request<MetadataResponse>(ApiKey.Metadata, 9, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });

  it('kafkajs with an oauthBearerProvider fetching real tokens round-trips records', async () => {
    const topic = uniqueName('identity-kafkajs');
    let fetched = 0;
    const kafka = new Kafka({
      clientId: 'identity-e2e',
      brokers: [gh.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      sasl: {
        mechanism: 'oauthbearer',
        oauthBearerProvider: async () => {
          fetched++;
          return { value: await oidc.token('payments-app') };
        },
      },
    });
    const got = await kafkajsRoundTrip(kafka, topic, [{ key: 'k1', value: 'paid' }, { key: 'k2', value: 'refunded' }]);
    expect(got).toEqual(['k1=paid', 'k2=refunded']);
    expect(fetched).toBeGreaterThan(0);

    const authed = gh.logs.filter((l) => l.msg === 'client authenticated' && l.principal === 'payments-app');
    expect(authed.length).toBeGreaterThan(0);
    expect(authed[0]).toMatchObject({ groups: ['payments-team'], issuer: oidc.issuer, mechanism: 'OAUTHBEARER' });
    // Every request that reached the broker from these connections carried the principal.
    const forwarded = recorder.seen.filter((s) => s.principal?.name === 'payments-app');
    expect(forwarded.map((s) => s.api)).toEqual(expect.arrayContaining(['Metadata', 'Produce', 'Fetch']));
    expect(forwarded.every((s) => s.principal!.groups.includes('payments-team'))).toBe(true);
    // Tokens never appear in the logs.
    expect(JSON.stringify(gh.logs)).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });

  it('answers SaslAuthenticate itself with the session lifetime up to the token expiry; PLAIN takes the token as password', async () => {
    const c = await RawClient.open(gh.bootstrap);
    try {
      const hs = await c.handshake('OAUTHBEARER');
      expect(hs).toMatchObject({ errorCode: 0, mechanisms: ['OAUTHBEARER', 'PLAIN'] });
      const res = await c.authenticate(Buffer.from(`n,,\x01auth=Bearer ${await oidc.token('analytics')}\x01\x01`));
      expect(res.errorCode).toBe(0);
      expect(Number(res.sessionLifetimeMs)).toBeGreaterThan(290_000);
      expect(Number(res.sessionLifetimeMs)).toBeLessThanOrEqual(300_000);
      expect((await metadata(c)).brokers.length).toBeGreaterThan(0);
      const id = connIdOf(gh.logs, c.localPort);
      expect(recorder.forConn(id)).toEqual(['Metadata']);
      expect(getPrincipal(recorder.conns.get(id!)!)).toMatchObject({ name: 'analytics', groups: ['analytics'], clientId: 'analytics' });
    } finally {
      c.close();
    }
    const p = await RawClient.open(gh.bootstrap);
    try {
      expect((await p.plain('auditor', await oidc.token('auditor'))).errorCode).toBe(0);
      expect((await metadata(p)).brokers.length).toBeGreaterThan(0);
    } finally {
      p.close();
    }
    const u = await RawClient.open(gh.bootstrap);
    try {
      expect((await u.handshake('SCRAM-SHA-256')).errorCode).toBe(SaslError.UNSUPPORTED_SASL_MECHANISM);
    } finally {
      u.close();
    }
  });

  const now = () => Math.floor(Date.now() / 1000);
  const rejections: Array<[string, () => Promise<string>, RegExp, ('OAUTHBEARER' | 'PLAIN')?, string?]> = [
    ['expired', () => oidc.sign({ iat: now() - 7200, exp: now() - 3600 }), /token expired: token expired at /],
    ['not yet valid', () => oidc.sign({ nbf: now() + 3600 }), /token not yet valid: token is not valid before /],
    ['wrong audience', () => oidc.sign({ aud: 'some-other-service' }), /token wrong audience/],
    ['wrong issuer', () => oidc.sign({ iss: `${oidc.issuer}/evil` }), /token wrong issuer: token signed with a key of http:\/\/127\.0\.0\.1:\d+ names issuer ".*\/evil"/],
    ['bad signature', async () => {
      const t = await oidc.token('admin');
      const [h, p, s] = t.split('.');
      return `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`;
    }, /token bad signature/],
    ['bad signature (right kid, other key)', () => stranger.sign({ iss: oidc.issuer }, { kid: oidc.kid }), /token bad signature/],
    ['alg none', async () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: oidc.issuer, sub: 'admin', aud: oidc.audience, exp: now() + 300 })}.`, /token alg not allowed: algorithm "none"/],
    ['alg HS256', async () => `${b64url({ alg: 'HS256', typ: 'JWT', kid: oidc.kid })}.${b64url({ iss: oidc.issuer, sub: 'admin', aud: oidc.audience, exp: now() + 300 })}.c2ln`, /token alg not allowed: algorithm "HS256"/],
    ['garbage', async () => 'definitely-not-a-token', /token malformed/],
    ['untrusted issuer', () => stranger.token('admin'), /token untrusted issuer: issuer "http:\/\/127\.0\.0\.1:\d+" is not trusted/],
    // An ID token of a client whose id is the proxy's audience: signed by the trusted issuer, aud matching, but typ JWT.
    ['ID token with a matching audience', () => oidc.sign({ azp: oidc.audience, nonce: 'n-0S6_WzA2Mj', at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' }, { typ: 'JWT' }), /token wrong token type: typ "JWT" is not at\+jwt \(RFC 9068\)/],
    ['plain JWT (typ JWT) where at+jwt is required', () => oidc.sign({}, { typ: 'JWT' }), /token wrong token type: typ "JWT" is not at\+jwt/],
    ['PLAIN user name of someone else', () => oidc.token('analytics'), /user name "admin" does not match/, 'PLAIN', 'admin'],
    ['PLAIN garbage', async () => 'garbage', /token malformed/, 'PLAIN', 'admin'],
  ];

  it.each(rejections)('rejects %s with SASL_AUTHENTICATION_FAILED and no reason; the log and the audit get it; nothing is forwarded', async (_name, make, reason, mechanism = 'OAUTHBEARER', user = '') => {
    const token = await make();
    const c = await RawClient.open(gh.bootstrap);
    try {
      const res = mechanism === 'PLAIN' ? await c.plain(user, token) : await c.oauthbearer(token);
      expect(res.errorCode).toBe(SaslError.SASL_AUTHENTICATION_FAILED);
      // The same words whatever the reason: no names, issuers or key-fetch errors for an unauthenticated client.
      expect(res.errorMessage).toBe('Authentication failed');
      expect(res.sessionLifetimeMs).toBe(0n);
      // One attempt per connection: the next request closes it and never reaches the broker.
      await expect(metadata(c)).rejects.toThrow(/closed/);
      const id = connIdOf(gh.logs, c.localPort);
      expect(id).toBeDefined();
      expect(recorder.forConn(id)).toEqual([]);
      expect(gh.logs.some((l) => l.conn === id && l.code === 'GH_AUTH_FAILED' && reason.test(`Authentication failed: ${String(l.reason)}`))).toBe(true);
      // A stage after the identity stage (the audit) sees the generic answer and the reason beside it.
      const seen = answers.seen.filter((a) => a.conn === id);
      expect(seen).toEqual([{ conn: id, errorCode: 58, errorMessage: 'Authentication failed', failure: expect.objectContaining({ errorCode: 58, mechanism }) }]);
      expect(`Authentication failed: ${seen[0]!.failure!.reason}`).toMatch(reason);
      expect(gh.logs.some((l) => l.conn === id && l.code === 'GH_STAGE_CLOSED' && l.reason === 'identity: Metadata request after failed authentication')).toBe(true);
      expect(JSON.stringify(gh.logs)).not.toContain(token);
    } finally {
      c.close();
    }
  });

  it('closes a connection that sends anything but ApiVersions and SASL before authenticating', async () => {
    const c = await RawClient.open(gh.bootstrap);
    const versions = await c.request<{ errorCode: number; apiKeys: Array<{ apiKey: number }> }>(ApiKey.ApiVersions, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
    expect(versions.errorCode).toBe(0);
    expect(versions.apiKeys.map((k) => k.apiKey)).toEqual(expect.arrayContaining([ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]));
    await expect(metadata(c)).rejects.toThrow(/closed/);
    const id = connIdOf(gh.logs, c.localPort);
    expect(recorder.forConn(id)).toEqual(['ApiVersions']);
    expect(JSON.stringify(gh.logs.filter((l) => l.conn === id))).toContain('Metadata request before authentication');
  });

  it('refuses the unframed SaslHandshake v0 flow with ILLEGAL_SASL_STATE and closes at the raw SASL bytes that follow', async () => {
    const c = await RawClient.open(gh.bootstrap);
    try {
      const hs = await c.handshake('PLAIN', 0);
      expect(hs).toMatchObject({ errorCode: SaslError.ILLEGAL_SASL_STATE, mechanisms: ['OAUTHBEARER', 'PLAIN'] });
      // A pre-KIP-152 client now sends its SASL token with only a length prefix.
      const plain = Buffer.from(`\0admin\0${await oidc.token('admin')}`);
      const len = Buffer.alloc(4);
      len.writeInt32BE(plain.length);
      c.writeRaw(Buffer.concat([len, plain]));
      await c.waitClosed(5_000);
      const id = connIdOf(gh.logs, c.localPort);
      expect(recorder.forConn(id)).toEqual([]);
      expect(gh.logs.some((l) => l.conn === id && l.code === 'GH_AUTH_FAILED' && l.msg === 'SaslHandshake v0 (unframed SASL) is not supported')).toBe(true);
    } finally {
      c.close();
    }
    const o = await RawClient.open(gh.bootstrap);
    try {
      const res = await o.authenticate(Buffer.from(`n,,\x01auth=Bearer ${await oidc.token('admin')}\x01\x01`));
      expect(res).toMatchObject({ errorCode: SaslError.ILLEGAL_SASL_STATE, errorMessage: 'Authentication failed' });
      await expect(metadata(o)).rejects.toThrow(/closed/);
      const id = connIdOf(gh.logs, o.localPort);
      expect(gh.logs.some((l) => l.conn === id && l.code === 'GH_AUTH_FAILED' && l.reason === 'SaslAuthenticate without a preceding SaslHandshake')).toBe(true);
    } finally {
      o.close();
    }
  });

  it('cuts off a connection whose token expired without re-authentication; one that re-authenticates keeps working', async () => {
    const lazy = await RawClient.open(gh.bootstrap);
    const diligent = await RawClient.open(gh.bootstrap);
    try {
      const short = () => oidc.sign({ sub: 'payments-app', client_id: 'payments-app', exp: now() + 3 });
      const a = await lazy.oauthbearer(await short());
      const b = await diligent.oauthbearer(await short());
      expect(a.errorCode).toBe(0);
      expect(Number(a.sessionLifetimeMs)).toBeLessThanOrEqual(3000);
      expect(Number(b.sessionLifetimeMs)).toBeGreaterThan(0);
      await metadata(lazy);
      await metadata(diligent);
      // KIP-368: re-authenticate on the same connection before the session ends.
      const again = await diligent.oauthbearer(await oidc.sign({ sub: 'payments-app', client_id: 'payments-app' }));
      expect(again.errorCode).toBe(0);
      expect(Number(again.sessionLifetimeMs)).toBeGreaterThan(250_000);
      // Re-authenticating as somebody else is refused.
      const other = await RawClient.open(gh.bootstrap);
      try {
        await other.oauthbearer(await oidc.token('analytics'));
        const hijack = await other.oauthbearer(await oidc.token('admin'));
        expect(hijack.errorCode).toBe(SaslError.SASL_AUTHENTICATION_FAILED);
        expect(hijack.errorMessage).toBe('Authentication failed');
        const id = connIdOf(gh.logs, other.localPort);
        expect(gh.logs.some((l) => l.conn === id && l.code === 'GH_AUTH_FAILED' && l.reason === 're-authentication as admin on a connection of analytics')).toBe(true);
        await expect(metadata(other)).rejects.toThrow(/closed/);
      } finally {
        other.close();
      }
      await new Promise((r) => setTimeout(r, 3500));
      expect((await metadata(diligent)).brokers.length).toBeGreaterThan(0);
      await expect(metadata(lazy)).rejects.toThrow(/closed/);
      const id = connIdOf(gh.logs, lazy.localPort);
      expect(JSON.stringify(gh.logs.filter((l) => l.conn === id))).toMatch(/session of payments-app expired at .* without re-authentication/);
      expect(gh.logs.some((l) => l.msg === 'client re-authenticated' && l.conn === connIdOf(gh.logs, diligent.localPort))).toBe(true);
    } finally {
      lazy.close();
      diligent.close();
    }
  });

  it('picks up a key rotation at the provider without a restart', async () => {
    const before = await RawClient.open(gh.bootstrap);
    try {
      expect((await before.oauthbearer(await oidc.token('admin'))).errorCode).toBe(0);
    } finally {
      before.close();
    }
    const oldKid = oidc.kid;
    await oidc.rotateKeys({ dropOld: true });
    expect(oidc.kid).not.toBe(oldKid);
    await new Promise((r) => setTimeout(r, 400)); // the configured JWKS refetch cooldown
    const after = await RawClient.open(gh.bootstrap);
    try {
      const token = await oidc.token('admin');
      expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid).toBe(oidc.kid);
      expect((await after.oauthbearer(token)).errorCode).toBe(0);
      expect((await metadata(after)).brokers.length).toBeGreaterThan(0);
    } finally {
      after.close();
    }
  });

  it('kafkajs hears "Authentication failed" for a rejected token (an error, not success); the reason is logged', async () => {
    const kafka = new Kafka({
      clientId: 'identity-e2e-bad',
      brokers: [gh.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await oidc.sign({ aud: 'elsewhere' }) }) },
    });
    const admin = kafka.admin();
    const err = await admin.connect().then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/Authentication failed/);
    expect(err?.message).not.toMatch(/audience/);
    await admin.disconnect().catch(() => undefined);
    expect(gh.logs.some((l) => l.code === 'GH_AUTH_FAILED' && l.reason === 'token wrong audience: token is not meant for this proxy (aud)')).toBe(true);
  });

  it('unauthenticated kafkajs (no SASL) is cut off', async () => {
    const admin = kafkaClient(gh.bootstrap, 'no-sasl').admin();
    await expect(admin.connect().then(() => admin.listTopics())).rejects.toThrow();
    await admin.disconnect().catch(() => undefined);
  });
});
