/**
 * confluent-kafka for Python (librdkafka inside the PyPI wheel) through the proxy, fetching its
 * own tokens: `sasl.mechanism=OAUTHBEARER` with `sasl.oauthbearer.method=oidc`, the client id
 * and secret of a demo client, and the test OpenID provider's token endpoint. It creates a topic,
 * produces and consumes; the proxy sees the client authenticated as that OIDC client.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, uniqueName } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { saslUpstream } from '../helpers/upstream-account.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { pythonWithConfluentKafka } from '../helpers/python.js';

/** The proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();
const script = fileURLToPath(new URL('../python/oidc_round_trip.py', import.meta.url));

describe('Python confluent-kafka with sasl.oauthbearer.method=oidc', () => {
  let python: string;
  let oidc: TestOidc;
  let gh: TestProxy;

  beforeAll(async () => {
    python = await pythonWithConfluentKafka();
    oidc = await startOidc();
    gh = await startProxy(upstream.bootstrap, { upstream: { sasl: upstream.sasl }, identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] } });
  }, 300_000);
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
  });

  it('fetches its token from the provider, produces and consumes through the proxy', async () => {
    const client = oidc.clients.find((c) => c.clientId === 'payments-app')!;
    const settings = {
      bootstrap: gh.bootstrap,
      tokenEndpoint: oidc.tokenEndpoint,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      topic: uniqueName('python-oidc'),
      group: uniqueName('python-group'),
      count: 10,
    };
    const res = await run(python, [script, JSON.stringify(settings)], { timeoutMs: 110_000 });
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { produced: number; consumed: string[]; librdkafka: string };
    expect(out.produced).toBe(10);
    expect(out.consumed.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}=v${i}`).sort());
    const authed = gh.logs.filter((l) => l.msg === 'client authenticated');
    expect(authed.length).toBeGreaterThan(0);
    expect(authed.every((l) => l.principal === 'payments-app' && l.mechanism === 'OAUTHBEARER' && l.issuer === oidc.issuer)).toBe(true);
    expect(JSON.stringify(gh.logs)).not.toContain(client.clientSecret);
  });
});
