/**
 * Several trusted issuers at once: two real OpenID providers (oidc-provider on two ports, each
 * with its own keys and audience) both configured in `identity.issuers`. kafkajs clients holding
 * tokens from either authenticate and round-trip records, and the principal records which issuer
 * vouched for it. A third, unconfigured provider's tokens are an untrusted issuer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { getPrincipal, SaslError, type Principal } from '../../src/identity/index.js';
import type { InterceptedRequest, Stage } from '../../src/stage/stage.js';
import { createTopics, uniqueName, waitFor } from '../helpers/e2e.js';
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
      { upstream: { sasl: upstream.sasl }, identity: { issuers: [{ issuer: corp.issuer, audience: corp.audience }, { issuer: partner.issuer, audience: partner.audience }] } },
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
    expect(produce.principal).toMatchObject({ name: 'payments-app', issuer: corp.issuer, groups: ['payments-team'] });
    const fetch = recorder.seen.find((s) => s.api === 'Fetch')!;
    expect(fetch.principal).toMatchObject({ name: 'auditor', issuer: partner.issuer, groups: ['auditors'] });
    expect(corp.issuer).not.toBe(partner.issuer);
  });

  it("each issuer's audience is its own; an unconfigured provider is an untrusted issuer", async () => {
    for (const [token, reason] of [
      [await partner.sign({ aud: corp.audience }), /token wrong audience/],
      [await stranger.token('admin'), /token untrusted issuer: issuer "http:\/\/127\.0\.0\.1:\d+" is not trusted/],
    ] as const) {
      const c = await RawClient.open(gh.bootstrap);
      try {
        const res = await c.oauthbearer(token);
        expect(res.errorCode).toBe(SaslError.SASL_AUTHENTICATION_FAILED);
        expect(res.errorMessage).toMatch(reason);
      } finally {
        c.close();
      }
    }
  });
});
