/**
 * The proxy's own upstream login: a dedicated broker whose only client listener for the proxy
 * requires SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). Clients with no credentials at
 * all (kcat, kafkajs) round-trip records through proxies configured with each mechanism; the
 * same clients straight at that listener are refused; a wrong proxy password closes client
 * connections with a logged reason naming the mechanism, never the password. With an identity
 * section too, clients authenticate to the proxy with their tokens while the broker only ever
 * sees the proxy's login. A second broker validates OAUTHBEARER tokens against the test's OpenID
 * provider; the proxy logs in with a client-credentials token of its own.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startBroker, type Broker } from '../../src/kafka/index.js';
import { createTopics, kafkaClient, kcat, uniqueName, waitFor } from '../helpers/e2e.js';
import { startOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const version = inject('kafkaVersion');
const USER = 'svc';
const PASSWORD = 'svc-secret';
const WRONG = 'not-the-Pa55word';

type Mechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

async function kcatRoundTrip(bootstrap: string): Promise<void> {
  const topic = uniqueName('upsasl-kcat');
  const lines = Array.from({ length: 50 }, (_, i) => `k${i}:v${i}`);
  const produced = await kcat(bootstrap, ['-P', '-t', topic, '-K:'], { input: lines.join('\n') + '\n' });
  expect(produced.code, produced.stderr).toBe(0);
  const consumed = await kcat(bootstrap, ['-C', '-t', topic, '-o', 'beginning', '-c', String(lines.length), '-e', '-f', '%k:%s\\n']);
  expect(consumed.code, consumed.stderr).toBe(0);
  expect(consumed.stdout.split('\n').filter(Boolean).sort()).toEqual([...lines].sort());
}

async function kafkajsRoundTrip(bootstrap: string): Promise<void> {
  const topic = uniqueName('upsasl-kafkajs');
  const kafka = kafkaClient(bootstrap, 'upstream-sasl-e2e');
  const admin = kafka.admin();
  await admin.connect();
  await createTopics(admin, [{ topic, numPartitions: 2 }]);
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const sent = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `value-${i}` }));
  await producer.send({ topic, messages: sent });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: uniqueName('upsasl-group') });
  const seen: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(`${message.key}=${message.value}`) });
    await waitFor('all records consumed', () => seen.length >= sent.length, { timeoutMs: 60_000 });
  } finally {
    await consumer.disconnect();
  }
  expect(seen.sort()).toEqual(sent.map((m) => `${m.key}=${m.value}`).sort());
}

describe('upstream SASL: the proxy logs in to brokers with its own credentials', () => {
  let broker: Broker;
  let sasl: string;

  beforeAll(async () => {
    broker = await startBroker({
      version,
      listeners: [{
        name: 'SASL',
        securityProtocol: 'SASL_PLAINTEXT',
        props: {
          'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
          'plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_${USER}="${PASSWORD}";`,
          'scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
          'scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
        },
      }],
      formatArgs: [
        '--add-scram', `SCRAM-SHA-256=[name=${USER},password=${PASSWORD}]`,
        '--add-scram', `SCRAM-SHA-512=[name=${USER},password=${PASSWORD}]`,
      ],
    });
    sasl = broker.endpoints.SASL!;
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('the SASL listener refuses clients without credentials', async () => {
    const res = await kcat(sasl, ['-L', '-m', '5'], { timeoutMs: 30_000 });
    expect(res.code).not.toBe(0);
  });

  for (const mechanism of ['PLAIN', 'SCRAM-SHA-512', 'SCRAM-SHA-256'] as Mechanism[]) {
    describe(`with ${mechanism}`, () => {
      let gh: TestProxy;
      beforeAll(async () => {
        gh = await startProxy(sasl, { upstream: { sasl: { mechanism, username: USER, password: '${GH_TEST_UPSTREAM_PASSWORD}' } } }, { env: { GH_TEST_UPSTREAM_PASSWORD: PASSWORD } });
      });
      afterAll(async () => {
        await gh?.stop();
      });

      it('learns the broker at its SASL endpoint (Metadata from the SASL listener advertises it)', () => {
        expect(gh.logs.some((l) => l.msg === 'learned broker' && l.upstream === sasl)).toBe(true);
      });

      it('kcat without credentials round-trips records', async () => {
        await kcatRoundTrip(gh.bootstrap);
      });

      if (mechanism !== 'SCRAM-SHA-256') {
        it('kafkajs without credentials round-trips records through a consumer group', async () => {
          await kafkajsRoundTrip(gh.bootstrap);
          expect(gh.logs.filter((l) => (l.level as number) >= 40 && String(l.code ?? '').startsWith('GH_UPSTREAM'))).toEqual([]);
        });
      }
    });
  }

  for (const mechanism of ['PLAIN', 'SCRAM-SHA-512'] as Mechanism[]) {
    it(`a wrong ${mechanism} password fails client connections with a reason naming the mechanism, not the password`, async () => {
      const gh = await startProxy(sasl, { upstream: { sasl: { mechanism, username: USER, password: WRONG } } });
      try {
        const res = await kcat(gh.bootstrap, ['-L', '-m', '5'], { timeoutMs: 30_000 });
        expect(res.code).not.toBe(0);
        const closed = gh.logs.filter((l) => l.msg === 'connection closed' && l.code === 'GH_UPSTREAM_AUTH');
        expect(closed.length).toBeGreaterThan(0);
        const reason = String(closed[0]!.reason);
        expect(reason).toContain(`with ${mechanism} as "${USER}" failed`);
        expect(reason).toMatch(/SASL_AUTHENTICATION_FAILED/);
        expect(JSON.stringify(gh.logs)).not.toContain(WRONG);
      } finally {
        await gh.stop();
      }
    });
  }

  it('with identity too: a client authenticates to the proxy with its token, the proxy to the broker with SCRAM', async () => {
    const oidc = await startOidc();
    const gh = await startProxy(sasl, {
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      upstream: { sasl: { mechanism: 'SCRAM-SHA-512', username: USER, password: PASSWORD } },
    });
    try {
      const token = await oidc.token('analytics');
      const topic = uniqueName('upsasl-identity');
      const auth = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=analytics', '-X', `sasl.password=${token}`];
      const produced = await kcat(gh.bootstrap, [...auth, '-P', '-t', topic, '-K:'], { input: 'a:1\nb:2\n' });
      expect(produced.code, produced.stderr).toBe(0);
      const consumed = await kcat(gh.bootstrap, [...auth, '-C', '-t', topic, '-o', 'beginning', '-c', '2', '-e', '-f', '%k=%s\\n']);
      expect(consumed.code, consumed.stderr).toBe(0);
      expect(consumed.stdout.split('\n').filter(Boolean).sort()).toEqual(['a=1', 'b=2']);
      expect(gh.logs.some((l) => l.msg === 'client authenticated' && l.principal === 'analytics')).toBe(true);
      // Without a token the proxy refuses the client before anything reaches the broker.
      const refused = await kcat(gh.bootstrap, ['-L', '-m', '5'], { timeoutMs: 30_000 });
      expect(refused.code).not.toBe(0);
      expect(gh.logs.some((l) => l.code === 'GH_STAGE_CLOSED' && /before authentication/.test(String(l.reason)))).toBe(true);
    } finally {
      await gh.stop();
      await oidc.stop();
    }
  });

  it('a broker listener without SASL answers the login with an error the log names', async () => {
    const gh = await startProxy(broker.bootstrap, { upstream: { sasl: { mechanism: 'PLAIN', username: USER, password: PASSWORD } } });
    try {
      const res = await kcat(gh.bootstrap, ['-L', '-m', '5'], { timeoutMs: 30_000 });
      expect(res.code).not.toBe(0);
      const closed = gh.logs.find((l) => l.msg === 'connection closed' && l.code === 'GH_UPSTREAM_AUTH');
      expect(String(closed?.reason)).toMatch(/with PLAIN as "svc" failed: broker answered SaslHandshake with/);
    } finally {
      await gh.stop();
    }
  });
});

describe('upstream SASL: OAUTHBEARER with the proxy\'s own client-credentials token', () => {
  let oidc: Awaited<ReturnType<typeof startOidc>>;
  let broker: Broker;

  beforeAll(async () => {
    oidc = await startOidc();
    broker = await startBroker({
      version,
      listeners: [{
        name: 'SASL',
        securityProtocol: 'SASL_PLAINTEXT',
        props: {
          'sasl.enabled.mechanisms': 'OAUTHBEARER',
          'oauthbearer.sasl.jaas.config': 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;',
          'oauthbearer.sasl.server.callback.handler.class': 'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler',
        },
      }],
      serverProps: {
        'sasl.oauthbearer.jwks.endpoint.url': oidc.jwksUri,
        'sasl.oauthbearer.expected.audience': oidc.audience,
        'sasl.oauthbearer.expected.issuer': oidc.issuer,
      },
      jvmProps: { 'org.apache.kafka.sasl.oauthbearer.allowed.urls': oidc.jwksUri },
    });
  });
  afterAll(async () => {
    await broker?.stop();
    await oidc?.stop();
  });

  it('kcat without credentials round-trips records; a wrong client secret is reported without the secret', async () => {
    const admin = oidc.clients.find((c) => c.clientId === 'admin')!;
    const sasl = broker.endpoints.SASL!;
    const gh = await startProxy(sasl, { upstream: { sasl: { mechanism: 'OAUTHBEARER', tokenEndpoint: oidc.tokenEndpoint, clientId: admin.clientId, clientSecret: admin.clientSecret } } });
    try {
      expect(gh.logs.some((l) => l.msg === 'learned broker' && l.upstream === sasl)).toBe(true);
      await kcatRoundTrip(gh.bootstrap);
    } finally {
      await gh.stop();
    }
    const bad = await startProxy(sasl, { upstream: { sasl: { mechanism: 'OAUTHBEARER', tokenEndpoint: oidc.tokenEndpoint, clientId: admin.clientId, clientSecret: WRONG } } });
    try {
      const res = await kcat(bad.bootstrap, ['-L', '-m', '5'], { timeoutMs: 30_000 });
      expect(res.code).not.toBe(0);
      const closed = bad.logs.find((l) => l.msg === 'connection closed' && l.code === 'GH_UPSTREAM_AUTH');
      expect(String(closed?.reason)).toMatch(/with OAUTHBEARER as "admin" failed: .*HTTP 401/);
      expect(JSON.stringify(bad.logs)).not.toContain(WRONG);
    } finally {
      await bad.stop();
    }
  });

  it('a token the broker does not trust (another issuer) is reported with the broker\'s reason', async () => {
    const other = await startOidc();
    const c = other.clients.find((x) => x.clientId === 'admin')!;
    const gh = await startProxy(broker.endpoints.SASL!, { upstream: { sasl: { mechanism: 'OAUTHBEARER', tokenEndpoint: other.tokenEndpoint, clientId: c.clientId, clientSecret: c.clientSecret } } });
    try {
      const res = await kcat(gh.bootstrap, ['-L', '-m', '5'], { timeoutMs: 30_000 });
      expect(res.code).not.toBe(0);
      const closed = gh.logs.find((l) => l.msg === 'connection closed' && l.code === 'GH_UPSTREAM_AUTH');
      expect(String(closed?.reason)).toMatch(/with OAUTHBEARER as "admin" failed: broker rejected the token \{"status":"invalid_token"\}; broker answered SASL_AUTHENTICATION_FAILED/);
    } finally {
      await gh.stop();
      await other.stop();
    }
  });
});
