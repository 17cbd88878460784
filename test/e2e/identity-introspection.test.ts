/**
 * Opaque access tokens end to end: the test OpenID provider issues random-string tokens to some
 * clients and answers RFC 7662 introspection for the proxy's own client; the proxy, configured
 * with that client (endpoint from discovery), introspects each opaque token a client presents.
 * kafkajs authenticates with one and round-trips records; expired, revoked and unknown tokens
 * are refused with their reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { ApiKey } from '../../protocol/generated/index.js';
import { SaslError } from '../../src/identity/index.js';
import { connIdOf, kafkajsRoundTrip, uniqueName, waitFor } from '../helpers/e2e.js';
import { DEMO_CLIENTS, startOidc, type TestOidc } from '../helpers/oidc.js';
import { saslUpstream } from '../helpers/upstream-account.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';

const { Kafka, logLevel } = kafkajs;
/** The proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();
const introspector = { clientId: 'gatehouse', clientSecret: 'gatehouse-introspection-secret' };
const CACHE_MS = 300;

describe('identity: opaque tokens by introspection', () => {
  let oidc: TestOidc;
  let gh: TestProxy;

  beforeAll(async () => {
    oidc = await startOidc({
      introspector,
      clients: [
        ...DEMO_CLIENTS,
        { clientId: 'ledger-app', clientSecret: 'ledger-secret', groups: ['payments-team'], accessTokenFormat: 'opaque' },
        { clientId: 'brief-app', clientSecret: 'brief-secret', groups: [], accessTokenFormat: 'opaque', accessTokenTtlSec: 1 },
      ],
    });
    gh = await startProxy(upstream.bootstrap, { upstream: { sasl: upstream.sasl },
      identity: {
        issuers: [{ issuer: oidc.issuer, audience: oidc.audience, principalClaim: 'client_id', introspection: introspector }],
        introspectionCacheMs: CACHE_MS,
      },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
  });

  const metadata = (c: RawClient) => c.request(ApiKey.Metadata, 9, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });

  it('kafkajs with an opaque token round-trips records; the principal comes from the introspection response', async () => {
    const token = await oidc.token('ledger-app');
    expect(token).not.toContain('.');
    const topic = uniqueName('introspected');
    const kafka = new Kafka({
      clientId: 'introspection-e2e',
      brokers: [gh.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: token }) },
    });
    const got = await kafkajsRoundTrip(kafka, topic, [{ key: 'a', value: 'posted' }, { key: 'b', value: 'settled' }]);
    expect(got).toEqual(['a=posted', 'b=settled']);
    const authed = gh.logs.filter((l) => l.msg === 'client authenticated' && l.principal === 'ledger-app');
    expect(authed.length).toBeGreaterThan(0);
    expect(authed[0]).toMatchObject({ groups: ['payments-team'], issuer: oidc.issuer, mechanism: 'OAUTHBEARER' });
    expect(JSON.stringify(gh.logs)).not.toContain(token);
  });

  it('PLAIN takes an opaque token as the password too', async () => {
    const c = await RawClient.open(gh.bootstrap);
    try {
      expect((await c.plain('ledger-app', await oidc.token('ledger-app'))).errorCode).toBe(0);
      await metadata(c);
    } finally {
      c.close();
    }
  });

  /** Refused with the generic answer; `reason` is what the proxy logged. */
  const refused = async (token: string, reason: RegExp) => {
    const c = await RawClient.open(gh.bootstrap);
    try {
      const res = await c.oauthbearer(token);
      expect(res.errorCode).toBe(SaslError.SASL_AUTHENTICATION_FAILED);
      expect(res.errorMessage).toBe('Authentication failed');
      const id = connIdOf(gh.logs, c.localPort);
      expect(`Authentication failed: ${String(gh.logs.find((l) => l.conn === id && l.code === 'GH_AUTH_FAILED')?.reason)}`).toMatch(reason);
      await expect(metadata(c)).rejects.toThrow(/closed/);
    } finally {
      c.close();
    }
  };

  it('refuses an expired, a revoked and an unknown opaque token as inactive', async () => {
    const brief = await oidc.token('brief-app');
    await new Promise((r) => setTimeout(r, 1200));
    await refused(brief, /^Authentication failed: token inactive: not a JWT, and not active at http:\/\/127\.0\.0\.1:\d+ \(expired, revoked or unknown\)$/);
    const revoked = await oidc.token('ledger-app');
    await oidc.revoke('ledger-app', revoked);
    await refused(revoked, /token inactive/);
    await refused('0pAqUe-token-nobody-issued', /token inactive/);
  });

  it('a token revoked after use is refused once its cached result lapses', async () => {
    const token = await oidc.token('ledger-app');
    const c = await RawClient.open(gh.bootstrap);
    try {
      expect((await c.oauthbearer(token)).errorCode).toBe(0);
    } finally {
      c.close();
    }
    await oidc.revoke('ledger-app', token);
    await new Promise((r) => setTimeout(r, CACHE_MS + 100));
    await refused(token, /token inactive/);
  });
});
