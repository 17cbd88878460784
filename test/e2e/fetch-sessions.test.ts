/**
 * Fetch sessions (KIP-227) are the proxy's, not a connection's: the broker keys a session by its
 * id alone, so a client that knows an id could go on with the session from any connection.
 *  - A session goes on from a new connection of the principal that opened it, and the policy in
 *    force judges every topic in it: after Read on a topic is revoked, an incremental fetch with
 *    the old session id and an empty topic list, on a new connection, gets
 *    TOPIC_AUTHORIZATION_FAILED and none of the topic's records.
 *  - Another principal naming that session id is answered FETCH_SESSION_ID_NOT_FOUND and the
 *    broker never sees the request.
 *  - Kafka's Java console consumer, which fetches incrementally, reads through the proxy with no
 *    session refused.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultFetchPartition, defaultFetchRequest, defaultFetchTopic } from '../../protocol/generated/fetch-request.js';
import type { FetchResponse } from '../../protocol/generated/fetch-response.js';
import { batches } from '../../protocol/runtime/record-batch.js';
import { runTool } from '../../src/kafka/index.js';
import { demoPolicy, demoPolicyYaml } from '../../src/sandbox/demo-policy.js';
import { createTopics, kafkaClient, uniqueName, waitFor } from '../helpers/e2e.js';
import { javaOidcProperties, startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';
import { saslUpstream } from '../helpers/upstream-account.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const classpath = inject('kafkaClasspath');
const upstream = saslUpstream();
const AUDIT_TOPIC = '__gatehouse_audit';
const TOPIC_AUTHORIZATION_FAILED = 29;
const FETCH_SESSION_ID_NOT_FOUND = 70;

describe('fetch sessions belong to the proxy and to the principal that opened them', () => {
  const topic = uniqueName('payments_sessions');
  const direct = kafkaClient(kafkaBootstrap, 'fetch-sessions-direct');
  let oidc: TestOidc;
  let gh: TestProxy;
  let policyFile: string;
  const opened: RawClient[] = [];

  /** A new connection through the proxy, logged in as a demo client. */
  async function connect(clientId: string): Promise<RawClient> {
    const c = await RawClient.open(gh.bootstrap);
    opened.push(c);
    expect((await c.oauthbearer(await oidc.token(clientId))).errorCode).toBe(0);
    return c;
  }

  /** Fetch v12 of partition 0 in a session: full (epoch 0) with the topic, else incremental naming nothing. */
  function fetch(c: RawClient, sessionId: number, sessionEpoch: number): Promise<FetchResponse> {
    const topics = sessionEpoch === 0 ? [{ ...defaultFetchTopic(), topic, partitions: [{ ...defaultFetchPartition(), partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }] : [];
    return c.request<FetchResponse>(ApiKey.Fetch, 12, { ...defaultFetchRequest(), maxWaitMs: 200, minBytes: 1, maxBytes: 1 << 20, sessionId, sessionEpoch, topics });
  }

  /** The values of the records `res` hands out for the topic, and the partition's error code. */
  function outcome(res: FetchResponse): { errorCode: number; records: number } {
    const p = res.responses.find((t) => t.topic === topic)?.partitions[0];
    const records = p?.records ? [...batches(Buffer.from(p.records))].reduce((n, b) => n + b.recordCount, 0) : 0;
    return { errorCode: p?.errorCode ?? -1, records };
  }

  async function produce(n: number, tag: string): Promise<void> {
    const producer = direct.producer();
    await producer.connect();
    try {
      await producer.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ value: `${tag}-${i}` })) });
    } finally {
      await producer.disconnect();
    }
  }

  async function setPolicy(yaml: string): Promise<void> {
    const reloads = gh.logs.filter((l) => l.msg === 'policy reloaded').length;
    writeFileSync(policyFile, yaml);
    await waitFor('policy reloaded', () => gh.logs.filter((l) => l.msg === 'policy reloaded').length > reloads, { timeoutMs: 10_000 });
  }

  beforeAll(async () => {
    oidc = await startOidc();
    policyFile = join(mkdtempSync(join(tmpdir(), 'gh-fetch-sessions-')), 'policy.yaml');
    writeFileSync(policyFile, demoPolicyYaml(AUDIT_TOPIC));
    gh = await startProxy(upstream.bootstrap, {
      upstream: { sasl: upstream.sasl },
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      policy: { file: policyFile },
    });
    const admin = direct.admin();
    await admin.connect();
    try {
      await createTopics(admin, [{ topic, numPartitions: 1 }]);
    } finally {
      await admin.disconnect();
    }
    await produce(5, 'first');
  });
  afterAll(async () => {
    for (const c of opened) c.close();
    await gh?.stop();
    await oidc?.stop();
  });

  it('a session goes on from another connection of its principal; another principal is told it does not exist', async () => {
    const first = await connect('analytics');
    const full = await fetch(first, 0, 0);
    expect(full.errorCode).toBe(0);
    expect(full.sessionId).not.toBe(0);
    expect(outcome(full)).toEqual({ errorCode: 0, records: 5 });

    // The same principal, a new connection, the session's id: the broker's session, as it was.
    const again = await fetch(await connect('analytics'), full.sessionId, 1);
    expect(again.errorCode).toBe(0);
    expect(outcome(again)).toEqual({ errorCode: 0, records: 5 });

    // The auditor may not read payments_*: naming analytics's session gets it nothing.
    const foreign = await fetch(await connect('auditor'), full.sessionId, 2);
    expect(foreign.errorCode).toBe(FETCH_SESSION_ID_NOT_FOUND);
    expect(foreign.responses).toEqual([]);
    expect(gh.logs.some((l) => l.msg === 'session refused: it belongs to another principal' && l.session === `fetch session ${full.sessionId}`)).toBe(true);

    // The session is intact for its owner (the broker never saw the foreign request: epoch 2 is still next).
    const owner = await fetch(first, full.sessionId, 2);
    expect(owner.errorCode).toBe(0);
  });

  it('after Read is revoked, the old session id on a new connection hands out no records of the topic', async () => {
    const first = await connect('analytics');
    const full = await fetch(first, 0, 0);
    expect(outcome(full)).toEqual({ errorCode: 0, records: 5 });
    await produce(3, 'second');

    const doc = demoPolicy(AUDIT_TOPIC);
    doc.roles.analytics!.rules = [
      { resource: 'topic', name: 'payments_*', operations: ['Describe'] },
      { resource: 'group', name: 'analytics-*', operations: ['Read', 'Describe'] },
    ];
    await setPolicy(stringify(doc));
    try {
      const later = await fetch(await connect('analytics'), full.sessionId, 1);
      expect(later.errorCode).toBe(0);
      expect(outcome(later)).toEqual({ errorCode: TOPIC_AUTHORIZATION_FAILED, records: 0 });
      // The broker was told to forget the topic: the next incremental fetch from the first connection is refused too.
      const next = await fetch(first, full.sessionId, 2);
      expect(outcome(next)).toEqual({ errorCode: TOPIC_AUTHORIZATION_FAILED, records: 0 });
    } finally {
      await setPolicy(demoPolicyYaml(AUDIT_TOPIC));
    }
  });

  it("Kafka's Java console consumer fetches in sessions through the proxy with none refused", async () => {
    const refusalsBefore = gh.logs.filter((l) => String(l.msg).startsWith('session refused')).length;
    const jvmArgs = [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${oidc.tokenEndpoint}`];
    const consumed = runTool(
      classpath,
      'console-consumer',
      [
        '--bootstrap-server', gh.bootstrap, '--topic', topic, '--group', uniqueName('analytics-sessions'), '--from-beginning',
        '--max-messages', '18', '--timeout-ms', '60000',
        ...javaOidcProperties(oidc, 'analytics').flatMap((p) => ['--consumer-property', p]),
      ],
      { jvmArgs },
    );
    // Some records while it is fetching, so that later fetches of its session hand out data.
    await produce(10, 'third');
    const result = await consumed;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n').filter((l) => /^(first|second|third)-\d+$/.test(l))).toHaveLength(18);
    expect(gh.logs.filter((l) => String(l.msg).startsWith('session refused')).length).toBe(refusalsBefore);
  });
});
