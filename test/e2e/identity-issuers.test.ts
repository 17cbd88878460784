/**
 * Several trusted issuers at once: two real OpenID providers (oidc-provider on two ports, each
 * with its own keys and audience) both configured in `identity.issuers`. kafkajs clients holding
 * tokens from either authenticate and round-trip records, and the principal records which issuer
 * vouched for it, in its name too (`corp:payments-app`). A third, unconfigured provider's tokens are an untrusted issuer. The partner
 * issuer is set to accept plain JWT access tokens (typ JWT, as Keycloak and Entra ID issue),
 * the corporate one wants RFC 9068's at+jwt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { getPrincipal, SaslError, type Principal } from '../../src/identity/index.js';
import type { InterceptedRequest, Stage } from '../../src/stage/stage.js';
import { connIdOf, createTopics, uniqueName, waitFor } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { saslUpstream } from '../helpers/upstream-account.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';

const { Kafka, logLevel } = kafkajs;
/** The proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();

/** The principals of the requests that reached the broker. */
class PrincipalRecorder implements Stage {
  readonly name = 'principal-recorder';
  readonly interest = { requests: 'all' as const };
  readonly seen: Array<{ api: string; principal: Principal | undefined }> = [];
  onRequest(req: InterceptedRequest): void {
    this.seen.push({ api: req.header.apiName, principal: getPrincipal(req.connection) });
  }
}

describe('identity: several trusted issuers', () => {
  let corp: TestOidc;
  let partner: TestOidc;
  let stranger: TestOidc;
  let gh: TestProxy;
  const recorder = new PrincipalRecorder();

  beforeAll(async () => {
    [corp, partner, stranger] = await Promise.all([startOidc({ audience: 'gatehouse' }), startOidc({ audience: 'kafka-partners' }), startOidc()]);
    gh = await startProxy(
      upstream.bootstrap,
      { upstream: { sasl: upstream.sasl }, identity: { issuers: [{ issuer: corp.issuer, name: 'corp', audience: corp.audience }, { issuer: partner.issuer, name: 'partner', audience: partner.audience, acceptPlainJwtAccessTokens: true }] } },
      { extraStages: [recorder] },
    );
  });
  afterAll(async () => {
    await gh?.stop();
    await Promise.all([corp?.stop(), partner?.stop(), stranger?.stop()]);
  });

  const client = (oidc: TestOidc, clientId: string) =>
    new Kafka({
      clientId: `issuers-${clientId}`,
      brokers: [gh.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await oidc.token(clientId) }) },
    });

  it("tokens from either provider authenticate; each principal records its issuer", async () => {
    const topic = uniqueName('two-issuers');
    const admin = client(corp, 'admin').admin();
    await admin.connect();
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    await admin.disconnect();

    const producer = client(corp, 'payments-app').producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'from', value: 'corp' }] });
    await producer.disconnect();

    const consumer = client(partner, 'auditor').consumer({ groupId: uniqueName('partner-group') });
    const got: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(`${message.key}=${message.value}`) });
    await waitFor('the record', () => got.length >= 1);
    await consumer.disconnect();
    expect(got).toEqual(['from=corp']);

    const produce = recorder.seen.find((s) => s.api === 'Produce')!;
    expect(produce.principal).toMatchObject({ name: 'corp:payments-app', source: 'corp', issuer: corp.issuer, groups: ['payments-team'] });
    const fetch = recorder.seen.find((s) => s.api === 'Fetch')!;
    expect(fetch.principal).toMatchObject({ name: 'partner:auditor', source: 'partner', issuer: partner.issuer, groups: ['auditors'] });
    expect(corp.issuer).not.toBe(partner.issuer);
  });

  const refusedFor = async (token: string): Promise<unknown> => {
    const c = await RawClient.open(gh.bootstrap);
    try {
      const res = await c.oauthbearer(token);
      expect(res.errorCode).toBe(SaslError.SASL_AUTHENTICATION_FAILED);
      expect(res.errorMessage).toBe('Authentication failed');
      const id = connIdOf(gh.logs, c.localPort);
      return gh.logs.find((l) => l.conn === id && l.code === 'GH_AUTH_FAILED')?.reason;
    } finally {
      c.close();
    }
  };

  it("each issuer's audience is its own; an unconfigured provider is an untrusted issuer (told to the log, not the client)", async () => {
    expect(await refusedFor(await partner.sign({ aud: corp.audience }))).toMatch(/^token wrong audience/);
    expect(await refusedFor(await stranger.token('admin'))).toMatch(/^token untrusted issuer: issuer "http:\/\/127\.0\.0\.1:\d+" is not trusted/);
  });

  it('acceptPlainJwtAccessTokens is per issuer: a typ JWT access token of the partner is taken, of corp not; ID tokens of neither', async () => {
    const ok = async (token: string) => {
      const c = await RawClient.open(gh.bootstrap);
      try {
        return (await c.oauthbearer(token)).errorCode;
      } finally {
        c.close();
      }
    };
    expect(await ok(await partner.sign({ sub: 'auditor', client_id: 'auditor' }, { typ: 'JWT' }))).toBe(0);
    expect(await ok(await partner.token('auditor'))).toBe(0); // at+jwt stays fine
    expect(await refusedFor(await corp.sign({}, { typ: 'JWT' }))).toMatch(/^token wrong token type: typ "JWT" is not at\+jwt/);
    expect(await refusedFor(await partner.sign({ azp: partner.audience, nonce: 'n-0S6_WzA2Mj' }, { typ: 'JWT' }))).toBe(
      'token wrong token type: token carries nonce, a claim of ID tokens: not an access token',
    );
    expect(await refusedFor(await partner.sign({ typ: 'ID', azp: partner.audience }, { typ: 'JWT' }))).toMatch(/^token wrong token type: the token's typ claim "ID"/);
  });
});
