/**
 * KIP-368 with real clients: tokens live 14 s. kafkajs re-authenticates on its open connections
 * once the session is within its threshold of the end and keeps producing; a kafkajs client told
 * never to re-authenticate is cut off by the proxy when its token expires. Kafka's Java producer
 * refreshes its token through the OIDC login handler and re-authenticates while producing for
 * longer than a token lives.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { runTool } from '../../src/kafka/index.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTopics, uniqueName } from '../helpers/e2e.js';
import { javaOidcProperties, startOidc, type TestOidc } from '../helpers/oidc.js';
import { saslUpstream } from '../helpers/upstream-account.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const { Kafka, logLevel } = kafkajs;
/** The proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();
const classpath = inject('kafkaClasspath');
const TTL_SEC = 14;

describe('identity: sessions end with their tokens (KIP-368)', () => {
  let oidc: TestOidc;
  let gh: TestProxy;

  beforeAll(async () => {
    oidc = await startOidc({ accessTokenTtlSec: TTL_SEC });
    gh = await startProxy(upstream.bootstrap, { upstream: { sasl: upstream.sasl }, identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }], clockToleranceSec: 0 } });
  });
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
  });

  function client(clientId: string, reauthenticationThreshold: number) {
    return new Kafka({
      clientId,
      brokers: [gh.bootstrap],
      logLevel: logLevel.NOTHING,
      reauthenticationThreshold,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await oidc.token('payments-app') }) },
    });
  }

  it('a client that re-authenticates keeps its connection; one that does not is cut off', async () => {
    const topic = uniqueName('identity-reauth');
    const admin = client('reauth-admin', 10_000).admin();
    await admin.connect();
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    await admin.disconnect();

    // 10 s threshold: re-authenticates from 4 s into each 14 s session.
    const diligent = client('diligent', 10_000).producer();
    // A hugely negative threshold: never re-authenticates.
    const lazy = client('lazy', -1e9).producer();
    await Promise.all([diligent.connect(), lazy.connect()]);
    const started = Date.now();
    let sent = 0;
    while (Date.now() - started < (TTL_SEC + 4) * 1000) {
      await diligent.send({ topic, messages: [{ value: `d${sent}` }] });
      await lazy.send({ topic, messages: [{ value: `l${sent}` }] });
      sent++;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await Promise.all([diligent.disconnect(), lazy.disconnect()]);

    const reauths = gh.logs.filter((l) => l.msg === 'client re-authenticated' && l.principal === 'payments-app');
    expect(reauths.length).toBeGreaterThan(0);
    const expired = gh.logs.filter((l) => l.code === 'GH_STAGE_CLOSED' && /session of payments-app expired at .* without re-authentication/.test(String(l.reason)));
    expect(expired.length).toBeGreaterThan(0);
    // The connections that re-authenticated were never cut off for expiry.
    const reauthConns = new Set(reauths.map((l) => l.conn));
    expect(expired.filter((l) => reauthConns.has(l.conn))).toEqual([]);
    // kafkajs reconnected the lazy producer with a fresh token, so every send succeeded.
    expect(sent).toBeGreaterThanOrEqual(TTL_SEC);
  });

  it("Kafka's Java producer refreshes its token and re-authenticates on its open connections", async () => {
    const topic = uniqueName('identity-java-reauth');
    const dir = mkdtempSync(join(tmpdir(), 'gh-reauth-'));
    try {
      const props = join(dir, 'producer.properties');
      writeFileSync(
        props,
        [
          ...javaOidcProperties(oidc, 'auditor'),
          // Tokens live 14 s: let the login thread refresh them long before they expire.
          'sasl.login.refresh.min.period.seconds=1',
          'sasl.login.refresh.buffer.seconds=1',
          'sasl.login.refresh.window.factor=0.5',
          'sasl.login.refresh.window.jitter=0.01',
          '',
        ].join('\n'),
      );
      const startedAt = Date.now();
      // 2 records a second for 20 s, on the same connections throughout.
      const res = await runTool(
        classpath,
        'producer-perf',
        ['--topic', topic, '--num-records', '40', '--record-size', '100', '--throughput', '2', '--producer.config', props, '--producer-props', 'acks=all', `bootstrap.servers=${gh.bootstrap}`],
        { jvmArgs: [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${oidc.tokenEndpoint}`], timeoutMs: 90_000 },
      );
      expect(res.code, res.stderr + res.stdout).toBe(0);
      expect(res.stdout).toMatch(/40 records sent/);
      expect(Date.now() - startedAt).toBeGreaterThan(TTL_SEC * 1000);
      const mine = gh.logs.filter((l) => (l.time as number) >= startedAt && l.principal === 'auditor');
      const reauthConns = new Set(mine.filter((l) => l.msg === 'client re-authenticated').map((l) => l.conn));
      expect(reauthConns.size).toBeGreaterThan(0);
      const expired = gh.logs.filter((l) => l.code === 'GH_STAGE_CLOSED' && reauthConns.has(l.conn) && /expired/.test(String(l.reason)));
      expect(expired).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
