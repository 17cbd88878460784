/**
 * A broker connection held back by a stage (Stage.holdUpstream), against a fake broker
 * (test/helpers/fake-broker.ts): with the identity stage, a client that never logs in never makes
 * the proxy connect, whatever it sends, and its ApiVersions is answered from the broker's
 * remembered answer through the response stages; once it has logged in the broker connection
 * opens, and requests sent right behind the login reach the broker in order. Without a stage that
 * holds it, the broker connection opens at once, as it always did.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { apiCodec, ApiKey } from '../../../protocol/generated/index.js';
import { defaultApiVersionsResponse, readApiVersionsResponse, type ApiVersionsResponse } from '../../../protocol/generated/api-versions-response.js';
import type { ApiVersionsRequest } from '../../../protocol/generated/api-versions-request.js';
import { defaultMetadataResponse, type MetadataResponse } from '../../../protocol/generated/metadata-response.js';
import { readSaslAuthenticateResponse } from '../../../protocol/generated/sasl-authenticate-response.js';
import { Reader } from '../../../protocol/runtime/index.js';
import { waitFor } from '../../../test/helpers/e2e.js';
import { proxied, requestFrame, responseFrame, type BrokerRequest, type Proxied } from '../../../test/helpers/fake-broker.js';
import { SaslStage } from '../../identity/sasl-stage.js';
import { TokenRejected, type ValidatedToken } from '../../identity/token-result.js';
import type { Stage } from '../../stage/stage.js';
import { ProxyError } from '../errors.js';
import { ApiVersionsStage } from '../routing/api-versions.js';
import type { ApiVersionsAnswer, ApiVersionsSource } from '../routing/remembered-api-versions.js';

const TRANSPORTS = ['memory', 'tcp'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A validator that takes only "good-token". */
const validator = {
  async validate(token: string): Promise<ValidatedToken> {
    if (token !== 'good-token') throw new TokenRejected('malformed', 'not a signed JWT');
    return { principal: 'app', groups: [], issuer: 'https://idp', source: 'oidc', clientId: 'app', expiresAt: Date.now() + 60_000, claims: {} };
  },
};
const identity = (): Stage[] => [new ApiVersionsStage(), new SaslStage({ validator, mechanisms: ['PLAIN'] })];

/** What the "broker" answers ApiVersions with: more than the proxy speaks (Fetch v17, an API key it lacks), no SASL APIs. */
function brokerApiVersions(): ApiVersionsResponse {
  return {
    ...defaultApiVersionsResponse(),
    apiKeys: [
      { apiKey: ApiKey.Fetch, minVersion: 0, maxVersion: 17 },
      { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 12 },
      { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 4 },
      { apiKey: 9999, minVersion: 0, maxVersion: 1 },
    ] as ApiVersionsResponse['apiKeys'],
    finalizedFeaturesEpoch: 7n,
  };
}

/** An ApiVersions source that counts what it is asked. */
function source(): ApiVersionsSource & { asked: number[] } {
  const asked: number[] = [];
  const fn = async (_req: ApiVersionsRequest, version: number): Promise<ApiVersionsAnswer> => {
    asked.push(version);
    return { body: brokerApiVersions(), version };
  };
  return Object.assign(fn, { asked });
}

const apiVersions = (corr: number, version = 3) =>
  requestFrame(ApiKey.ApiVersions, version, corr, (b: ApiVersionsRequest) => Object.assign(b, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }));
const handshake = (corr: number) => requestFrame(ApiKey.SaslHandshake, 1, corr, (b: { mechanism: string }) => void (b.mechanism = 'PLAIN'));
const authenticate = (corr: number, password: string) =>
  requestFrame(ApiKey.SaslAuthenticate, 2, corr, (b: { authBytes: Buffer }) => void (b.authBytes = Buffer.from(`\0app\0${password}`)));
const metadata = (corr: number) => requestFrame(ApiKey.Metadata, 12, corr);

/** The fake broker: Metadata and ApiVersions (nothing else reaches it here). */
const broker = {
  answer: (req: BrokerRequest): Buffer =>
    req.apiKey === ApiKey.Metadata
      ? responseFrame(ApiKey.Metadata, req.apiVersion, req.correlationId, { ...defaultMetadataResponse(), clusterId: `from-broker-${req.correlationId}` } satisfies MetadataResponse)
      : responseFrame(ApiKey.ApiVersions, req.apiVersion, req.correlationId, brokerApiVersions()),
};

const correlationIds = (p: Proxied) => p.responses().map((r) => r.readInt32BE(4));

/** The ApiVersions body of a response frame (size prefix included; header v0). */
const apiVersionsBody = (frame: Buffer, version: number) => readApiVersionsResponse(new Reader(frame, 8), version);

let open: Proxied[] = [];
afterEach(async () => {
  await Promise.all(open.map((p) => p.dispose()));
  open = [];
});
async function start(opts: Parameters<typeof proxied>[0]): Promise<Proxied> {
  const p = await proxied(opts);
  open.push(p);
  return p;
}

describe.each(TRANSPORTS)('a broker connection held back (%s)', (transport) => {
  it('a client that never logs in never makes the proxy connect: ApiVersions from the remembered answer, SASL answered, then closed', async () => {
    const answers = source();
    const p = await start({ transport, stages: identity(), broker, apiVersions: answers, waitForBroker: false });
    p.client.write(Buffer.concat([apiVersions(1, 3), apiVersions(2, 0), handshake(3), authenticate(4, 'wrong')]));
    await waitFor('four answers', () => p.responses().length === 4, { intervalMs: 5 });
    expect(correlationIds(p)).toEqual([1, 2, 3, 4]);
    expect(answers.asked).toEqual([3, 0]);
    const auth = readSaslAuthenticateResponse(new Reader(p.responses()[3]!, 9), 2); // header v1: correlation id, tags
    expect(auth.errorCode).toBe(58);
    // The next request closes the connection (one attempt per connection), still without a broker connection.
    p.client.write(metadata(5));
    expect(await p.closed).toBe('GH_STAGE_CLOSED');
    await sleep(20);
    expect(p.stats.upstreamConnects).toBe(0);
    expect(() => p.broker).toThrow(/not connected/);
  });

  it('the remembered answer goes through the response stages as the broker\'s would: capped to what the proxy speaks, SASL APIs added', async () => {
    const p = await start({ transport, stages: identity(), broker, apiVersions: source(), waitForBroker: false });
    p.client.write(Buffer.concat([apiVersions(1, 3), apiVersions(2, 1)]));
    await waitFor('two answers', () => p.responses().length === 2, { intervalMs: 5 });
    const v3 = apiVersionsBody(p.responses()[0]!, 3);
    expect(v3.errorCode).toBe(0);
    expect(v3.finalizedFeaturesEpoch).toBe(7n); // a v3 field, kept
    const keys = new Map(v3.apiKeys.map((k) => [k.apiKey, k.maxVersion]));
    expect(keys.get(ApiKey.Fetch)).toBe(15); // ApiVersionsStage's cap
    expect(keys.has(9999)).toBe(false); // no codec: removed
    expect(keys.get(ApiKey.Metadata)).toBe(Math.min(12, apiCodec(ApiKey.Metadata)!.maxVersion));
    expect(keys.get(ApiKey.SaslHandshake)).toBe(1); // the identity stage's
    expect(keys.get(ApiKey.SaslAuthenticate)).toBe(2);
    expect(apiVersionsBody(p.responses()[1]!, 1).apiKeys).toEqual(v3.apiKeys);
    expect(p.stats.upstreamConnects).toBe(0);
  });

  it('once the client has logged in the broker connection opens, and requests sent right behind the login reach the broker in order', async () => {
    const p = await start({ transport, stages: identity(), broker, apiVersions: source(), waitForBroker: false });
    // All in one write: the Metadata requests arrive before the broker connection can have opened.
    p.client.write(Buffer.concat([apiVersions(1), handshake(2), authenticate(3, 'good-token'), metadata(4), metadata(5), metadata(6)]));
    await waitFor('six answers', () => p.responses().length === 6, { intervalMs: 5 });
    expect(correlationIds(p)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(p.stats.upstreamConnects).toBe(1);
    // The broker saw only what had to go to it, in order: never ApiVersions or the client's SASL.
    expect(p.broker.requests.map((r) => [r.apiKey, r.correlationId])).toEqual([
      [ApiKey.Metadata, 4],
      [ApiKey.Metadata, 5],
      [ApiKey.Metadata, 6],
    ]);
  });

  it('opens the broker connection at login, before the next request arrives', async () => {
    const p = await start({ transport, stages: identity(), broker, apiVersions: source(), waitForBroker: false });
    p.client.write(Buffer.concat([handshake(1), authenticate(2, 'good-token')]));
    await p.brokerConnected;
    expect(p.stats.upstreamConnects).toBe(1);
    p.client.write(metadata(3));
    await waitFor('three answers', () => p.responses().length === 3, { intervalMs: 5 });
    expect(p.broker.requests.map((r) => r.correlationId)).toEqual([3]);
  });

  it('without an ApiVersions source, ApiVersions opens the broker connection and goes to the broker', async () => {
    const p = await start({ transport, stages: identity(), broker, waitForBroker: false });
    p.client.write(apiVersions(1));
    await waitFor('an answer', () => p.responses().length === 1, { intervalMs: 5 });
    expect(p.stats.upstreamConnects).toBe(1);
    expect(p.broker.requests.map((r) => r.apiKey)).toEqual([ApiKey.ApiVersions]);
  });

  it('an ApiVersions source that fails closes the connection with its reason', async () => {
    const failing: ApiVersionsSource = async () => {
      throw new ProxyError('GH_UPSTREAM_UNREACHABLE', 'cannot connect to 127.0.0.1:1');
    };
    const p = await start({ transport, stages: identity(), broker, apiVersions: failing, waitForBroker: false });
    p.client.write(apiVersions(1));
    expect(await p.closed).toBe('GH_UPSTREAM_UNREACHABLE');
    expect(p.stats.upstreamConnects).toBe(0);
  });

  it('without a stage that holds it, the broker connection opens at once and ApiVersions goes to the broker', async () => {
    const answers = source();
    const p = await start({ transport, stages: [new ApiVersionsStage()], broker, apiVersions: answers });
    expect(p.stats.upstreamConnects).toBe(1);
    p.client.write(apiVersions(1));
    await waitFor('an answer', () => p.responses().length === 1, { intervalMs: 5 });
    expect(p.broker.requests.map((r) => r.apiKey)).toEqual([ApiKey.ApiVersions]);
    expect(answers.asked).toEqual([]);
  });

  it('a stage whose holdUpstream throws costs its connection', async () => {
    const throwing: Stage = {
      name: 'thrower',
      interest: {},
      holdUpstream() {
        throw new Error('boom');
      },
    };
    const p = await start({ transport, stages: [throwing], broker, apiVersions: source(), waitForBroker: false });
    expect(await p.closed).toBe('GH_STAGE_FAILED');
    expect(p.stats.upstreamConnects).toBe(0);
  });
});
