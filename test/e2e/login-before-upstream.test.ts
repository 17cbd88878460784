/**
 * What a client that has not logged in costs, with identity on and the proxy logging in to the
 * broker with its own SCRAM account (the test broker's SASL listener): no broker connection and
 * no upstream login, counted with the proxy's own metric (gatehouse_upstream_connections_opened_total).
 * Many connections that send ApiVersions, a SaslHandshake and a SaslAuthenticate with a bad token
 * open none; the ApiVersions answer they get is the one a proxy without identity gets from the
 * broker, at every version; a client that logs in (kcat) round-trips records, its broker
 * connections opened only once it has logged in, one per logged-in connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { apiCodec, ApiKey } from '../../protocol/generated/index.js';
import type { ApiVersionsResponse } from '../../protocol/generated/api-versions-response.js';
import { defaultMetadataRequest } from '../../protocol/generated/metadata-request.js';
import { ObservabilityServer } from '../../src/observability/server.js';
import { kcat, uniqueName } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';
import { saslUpstream } from '../helpers/upstream-account.js';

const CONNECTIONS = 40;
const newest = apiCodec(ApiKey.ApiVersions)!.maxVersion;
const software = { clientSoftwareName: 'e2e-client', clientSoftwareVersion: '1.0' };

describe('before login a client costs no broker connection', () => {
  const upstream = saslUpstream();
  let oidc: TestOidc;
  let gh: TestProxy;
  let plain: TestProxy;
  let metrics: ObservabilityServer;

  /** The proxy's count of broker connections opened, as scraped. */
  const upstreamOpened = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text();
    const m = /^gatehouse_upstream_connections_opened_total (\d+)$/m.exec(text);
    if (!m) throw new Error('no gatehouse_upstream_connections_opened_total in /metrics');
    return Number(m[1]);
  };

  beforeAll(async () => {
    oidc = await startOidc();
    gh = await startProxy(upstream.bootstrap, { identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] }, upstream: { sasl: upstream.sasl } });
    // The same broker through a proxy without identity: ApiVersions goes to the broker, as it always did.
    plain = await startProxy(upstream.bootstrap, { upstream: { sasl: upstream.sasl } });
    metrics = await ObservabilityServer.start({ host: '127.0.0.1', port: 0, proxy: gh.proxy, log: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await metrics?.close();
    await gh?.stop();
    await plain?.stop();
    await oidc?.stop();
  });

  it(`${CONNECTIONS} connections that send ApiVersions and a bad SaslAuthenticate open no broker connection`, async () => {
    const before = await upstreamOpened();
    expect(before).toBe(1); // the start-up discovery
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => RawClient.open(gh.bootstrap)));
    try {
      const outcomes = await Promise.all(
        clients.map(async (c, i) => {
          const versions = await c.request<ApiVersionsResponse>(ApiKey.ApiVersions, 3, software);
          const auth = i % 2 ? await c.oauthbearer('not-a-token') : await c.plain('someone', await oidc.sign({ aud: 'another-audience' }));
          return { versions: versions.errorCode, apis: versions.apiKeys.length, auth: auth.errorCode };
        }),
      );
      for (const o of outcomes) expect(o).toEqual({ versions: 0, apis: expect.any(Number) as number, auth: 58 });
      expect(outcomes[0]!.apis).toBeGreaterThan(40);
      // One attempt per connection: the next request closes it, still without a broker connection.
      await Promise.all(clients.map((c) => c.request(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [] }).catch(() => undefined)));
      await Promise.all(clients.map((c) => c.waitClosed()));
    } finally {
      for (const c of clients) c.close();
    }
    expect(await upstreamOpened()).toBe(before);
    expect(gh.logs.filter((l) => l.msg === 'upstream connected')).toEqual([]);
  });

  it('answers ApiVersions before login as the broker answers it through a proxy without identity, at every version', async () => {
    const before = await upstreamOpened();
    for (let v = 0; v <= newest; v++) {
      const answers: ApiVersionsResponse[] = [];
      for (const proxy of [gh, plain]) {
        const c = await RawClient.open(proxy.bootstrap);
        try {
          answers.push(await c.request<ApiVersionsResponse>(ApiKey.ApiVersions, v, software));
        } finally {
          c.close();
        }
      }
      expect(answers[0]!.errorCode).toBe(0);
      // The one difference: KRaft brokers give the metadata offset as the features' epoch, which
      // moves with every metadata change; the remembered answer's is from when it was learned.
      expect(answers[0]!.finalizedFeaturesEpoch).toBeLessThanOrEqual(answers[1]!.finalizedFeaturesEpoch);
      expect({ ...answers[0], finalizedFeaturesEpoch: 0n }, `v${v}`).toEqual({ ...answers[1], finalizedFeaturesEpoch: 0n });
    }
    // A software name the broker refuses: INVALID_REQUEST, from the broker and from the remembered answers alike.
    const invalid: ApiVersionsResponse[] = [];
    for (const proxy of [gh, plain]) {
      const c = await RawClient.open(proxy.bootstrap);
      try {
        invalid.push(await c.request<ApiVersionsResponse>(ApiKey.ApiVersions, 3, { clientSoftwareName: '-bad name', clientSoftwareVersion: '1' }));
      } finally {
        c.close();
      }
    }
    expect(invalid[0]).toEqual(invalid[1]);
    expect(invalid[0]!.errorCode).toBe(42);
    expect(await upstreamOpened()).toBe(before);
  });

  it('a client that logs in round-trips records; its broker connections open after login, one per logged-in connection', async () => {
    const before = await upstreamOpened();
    const loginsBefore = gh.logs.filter((l) => l.msg === 'client authenticated').length;
    const token = await oidc.token('analytics');
    const topic = uniqueName('login-first');
    const auth = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=analytics', '-X', `sasl.password=${token}`];
    const produced = await kcat(gh.bootstrap, [...auth, '-P', '-t', topic, '-K:'], { input: 'a:1\nb:2\nc:3\n' });
    expect(produced.code, produced.stderr).toBe(0);
    const consumed = await kcat(gh.bootstrap, [...auth, '-C', '-t', topic, '-o', 'beginning', '-c', '3', '-e', '-f', '%k=%s\\n']);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout.split('\n').filter(Boolean).sort()).toEqual(['a=1', 'b=2', 'c=3']);
    const logins = gh.logs.filter((l) => l.msg === 'client authenticated').length - loginsBefore;
    expect(logins).toBeGreaterThanOrEqual(4); // each kcat: bootstrap and broker connections
    // Broker connections: exactly one per connection that logged in (the broker listener's ApiVersions answers came with discovery).
    expect((await upstreamOpened()) - before).toBe(logins);
  });
});
