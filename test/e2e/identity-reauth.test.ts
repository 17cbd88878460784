/**
 * KIP-368 with a real client: tokens live 14 s, kafkajs re-authenticates on its open connections
 * once the session is within its threshold of the end and keeps producing; a kafkajs client told
 * never to re-authenticate is cut off by the proxy when its token expires.
 */
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const { Kafka, logLevel } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');
const TTL_SEC = 14;

describe('identity: sessions end with their tokens (KIP-368)', () => {
  let oidc: TestOidc;
  let gh: TestProxy;

  beforeAll(async () => {
    oidc = await startOidc({ accessTokenTtlSec: TTL_SEC });
    gh = await startProxy(kafkaBootstrap, { identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }], clockToleranceSec: 0 } });
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
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
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
});
