/**
 * Authorization through the proxy with the sandbox's demo policy, real tokens and real clients:
 * the payments team owns payments_* and payments-*, and nothing else; listings show it only its
 * own topics; an admin manages cluster configs; each denial reaches kafkajs, Kafka's Java tools
 * and kcat as Kafka's own authorization error on a connection that stays open; a Produce to an
 * allowed and a denied topic in one request lands only the allowed records; a policy change
 * reaches a running consumer without reconnecting.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ConfigResourceTypes, Kafka, logLevel, ResourcePatternTypes, type KafkaConfig } from 'kafkajs';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import type { ProduceResponse } from '../../protocol/generated/produce-response.js';
import { encodeBatch, encodeRecords } from '../../protocol/runtime/record-batch.js';
import { ZERO_UUID } from '../../protocol/runtime/index.js';
import { runTool } from '../../src/kafka/index.js';
import { demoPolicy, demoPolicyYaml } from '../../src/sandbox/demo-policy.js';
import { createTopics, kafkaClient, kcat, uniqueName, waitFor } from '../helpers/e2e.js';
import { javaOidcProperties, startOidc, type TestOidc } from '../helpers/oidc.js';
import { errorOf, kafkaErrorType } from '../helpers/kafka-errors.js';
import { RawClient } from '../helpers/sasl-client.js';
import { saslUpstream } from '../helpers/upstream-account.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const kafkaBootstrap = inject('kafkaBootstrap');
/** The proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();
const classpath = inject('kafkaClasspath');
const AUDIT_TOPIC = '__gatehouse_audit';

type ClientName = 'admin' | 'payments-app' | 'analytics' | 'auditor';

describe('policy: the demo roles through the proxy', () => {
  let oidc: TestOidc;
  let gh: TestProxy;
  let policyFile: string;
  const direct = kafkaClient(kafkaBootstrap, 'policy-e2e-direct');
  const ordersTopic = uniqueName('orders');
  const paymentsTopic = uniqueName('payments_e2e');

  function client(name: ClientName, extra: Partial<KafkaConfig> = {}): Kafka {
    return new Kafka({
      clientId: `policy-e2e-${name}`,
      brokers: [gh.bootstrap],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 10_000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await oidc.token(name) }) },
      ...extra,
    });
  }

  beforeAll(async () => {
    oidc = await startOidc();
    const dir = mkdtempSync(join(tmpdir(), 'gh-policy-e2e-'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, demoPolicyYaml(AUDIT_TOPIC));
    gh = await startProxy(upstream.bootstrap, { upstream: { sasl: upstream.sasl },
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      policy: { file: policyFile },
    });
    // Topics other teams own, made directly on the broker.
    const admin = direct.admin();
    await admin.connect();
    await createTopics(admin, [{ topic: ordersTopic, numPartitions: 1 }, { topic: AUDIT_TOPIC, numPartitions: 1 }]);
    await admin.disconnect();
  });
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
  });

  it('payments-app creates, alters, produces to and consumes its own topics and commits offsets for its groups', async () => {
    const kafka = client('payments-app');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopics(admin, [{ topic: paymentsTopic, numPartitions: 1 }]);
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: paymentsTopic, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
      const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: paymentsTopic, configNames: ['retention.ms'] }] });
      expect(described.resources[0]!.configEntries[0]!.configValue).toBe('3600000');
      await admin.createPartitions({ topicPartitions: [{ topic: paymentsTopic, count: 2 }] });
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: paymentsTopic, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `payment-${i}` })) });
    await producer.disconnect();
    const groupId = uniqueName('payments-group');
    const consumer = kafka.consumer({ groupId });
    const seen: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [paymentsTopic], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
      await waitFor('10 records consumed', () => seen.length >= 10, { timeoutMs: 30_000 });
    } finally {
      await consumer.disconnect();
    }
    const admin2 = kafka.admin();
    await admin2.connect();
    try {
      const offsets = await admin2.fetchOffsets({ groupId, topics: [paymentsTopic] });
      expect(offsets[0]!.partitions.reduce((n, p) => n + Number(p.offset), 0)).toBe(10);
    } finally {
      await admin2.disconnect();
    }
  });

  it('payments-app is denied other topics, other groups, the audit topic and cluster operations, with Kafka\'s error codes', async () => {
    const kafka = client('payments-app');
    const producer = kafka.producer();
    await producer.connect();
    expect(await errorOf(producer.send({ topic: ordersTopic, messages: [{ value: 'x' }] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await errorOf(producer.send({ topic: AUDIT_TOPIC, messages: [{ value: 'forged' }] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    // The connection survived the denials.
    await producer.send({ topic: paymentsTopic, messages: [{ value: 'still here' }] });
    await producer.disconnect();

    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await errorOf(admin.createTopics({ topics: [{ topic: uniqueName('orders') }] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
      expect(await errorOf(admin.deleteTopics({ topics: [ordersTopic] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
      // FindCoordinator for another team's group is denied with GROUP_AUTHORIZATION_FAILED, which
      // kafkajs (against a broker too) reports as "Failed to find group coordinator".
      const otherGroup = uniqueName('analytics-group');
      expect(await errorOf(admin.fetchOffsets({ groupId: otherGroup, topics: [paymentsTopic] }))).toMatch(/GROUP_AUTHORIZATION_FAILED|GroupCoordinatorNotFound/);
      expect(gh.logs.some((l) => l.msg === 'request denied' && l.api === 'FindCoordinator' && l.errorCode === 30 && String(l.denied).includes(otherGroup))).toBe(true);
      expect(
        await errorOf(admin.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY })),
      ).toBe('CLUSTER_AUTHORIZATION_FAILED');
      expect(
        await errorOf(admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'log.cleaner.backoff.ms', value: '15000' }] }] })),
      ).toBe('CLUSTER_AUTHORIZATION_FAILED');
      // Listing shows only what it may describe.
      const topics = await admin.listTopics();
      expect(topics).toContain(paymentsTopic);
      expect(topics.filter((t) => !t.startsWith('payments_'))).toEqual([]);
    } finally {
      await admin.disconnect();
    }
    const consumer = kafka.consumer({ groupId: uniqueName('payments-group') });
    await consumer.connect();
    try {
      expect(await errorOf(consumer.subscribe({ topics: [AUDIT_TOPIC], fromBeginning: true }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    } finally {
      await consumer.disconnect();
    }
  });

  it('an admin manages cluster configs and sees every topic but the protected audit topic stays closed to it', async () => {
    const admin = client('admin').admin();
    await admin.connect();
    try {
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'log.cleaner.backoff.ms', value: '15000' }] }] });
      const cfg = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['log.cleaner.backoff.ms'] }] });
      expect(cfg.resources[0]!.configEntries[0]!.configValue).toBe('15000');
      const topics = await admin.listTopics();
      expect(topics).toEqual(expect.arrayContaining([paymentsTopic, ordersTopic]));
      expect(topics).not.toContain(AUDIT_TOPIC);
    } finally {
      await admin.disconnect();
    }
  });

  it("denials reach Kafka's Java tools and kcat as the normal authorization error", async () => {
    const props = javaOidcProperties(oidc, 'payments-app');
    const propsFile = join(mkdtempSync(join(tmpdir(), 'gh-policy-java-')), 'client.properties');
    writeFileSync(propsFile, props.join('\n') + '\n');
    const jvmArgs = [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${oidc.tokenEndpoint}`];
    const produced = await runTool(classpath, 'console-producer', ['--bootstrap-server', gh.bootstrap, '--topic', ordersTopic, ...props.flatMap((p) => ['--producer-property', p])], {
      input: 'denied\n',
      jvmArgs,
      timeoutMs: 60_000,
    });
    expect(produced.stdout + produced.stderr).toContain(`Not authorized to access topics: [${ordersTopic}]`);
    const described = await runTool(classpath, 'topics', ['--bootstrap-server', gh.bootstrap, '--command-config', propsFile, '--describe', '--topic', ordersTopic], { jvmArgs, timeoutMs: 60_000 });
    expect(described.code).not.toBe(0);
    expect(described.stdout + described.stderr).toMatch(/TopicAuthorizationException|not authorized|does not exist/i);

    const token = await oidc.token('payments-app');
    const sasl = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=payments-app', '-X', `sasl.password=${token}`];
    const kp = await kcat(gh.bootstrap, [...sasl, '-P', '-t', ordersTopic], { input: 'denied\n' });
    expect(kp.code).not.toBe(0);
    expect(kp.stderr).toMatch(/Topic authorization failed/i);
    const kc = await kcat(gh.bootstrap, [...sasl, '-C', '-t', ordersTopic, '-o', 'beginning', '-e']);
    expect(kc.stderr).toMatch(/Topic authorization failed/i);
    // Denials are answers, not dropped connections.
    expect(gh.proxy.stats.closedByCode.GH_STAGE_CLOSED ?? 0).toBe(0);
    expect(gh.proxy.stats.closedByCode.GH_STAGE_FAILED ?? 0).toBe(0);
  });

  it('a Produce naming an allowed and a denied topic lands only the allowed records and reports both outcomes', async () => {
    const other = uniqueName('orders');
    const admin = direct.admin();
    await admin.connect();
    await createTopics(admin, [{ topic: other, numPartitions: 1 }]);
    await admin.disconnect();
    // kafkajs and the Java client check metadata first and never send such a request, so send it raw.
    const raw = await RawClient.open(gh.bootstrap);
    const allowedValue = `mixed-allowed-${'x'.repeat(400_000)}`;
    try {
      expect((await raw.oauthbearer(await oidc.token('payments-app'))).errorCode).toBe(0);
      const batch = (value: string) => {
        const now = BigInt(Date.now());
        const records = encodeRecords([{ attributes: 0, timestampDelta: 0n, offsetDelta: 0, key: null, value: Buffer.from(value), headers: [] }]);
        return encodeBatch(
          { baseOffset: 0n, partitionLeaderEpoch: -1, magic: 2, crc: 0, attributes: 0, lastOffsetDelta: 0, baseTimestamp: now, maxTimestamp: now, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: 1 },
          records,
        );
      };
      // The allowed record is large, so the request reaches the proxy over several reads: the
      // policy authorizes it skimmed and decodes it whole only to forward the allowed part.
      const res = await raw.request<ProduceResponse>(ApiKey.Produce, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 10_000,
        topicData: [
          { name: other, topicId: ZERO_UUID, partitionData: [{ index: 0, records: batch('mixed-denied') }] },
          { name: paymentsTopic, topicId: ZERO_UUID, partitionData: [{ index: 0, records: batch(allowedValue) }] },
        ],
      });
      // One answer, in the request's order: the denied topic first, then the allowed one.
      expect(res.responses.map((t) => [t.name, t.partitionResponses.map((p) => p.errorCode)])).toEqual([
        [other, [29]],
        [paymentsTopic, [0]],
      ]);
      expect(res.responses[1]!.partitionResponses[0]!.baseOffset).toBeGreaterThanOrEqual(0n);
    } finally {
      raw.close();
    }
    const partial = gh.logs.filter((l) => l.msg === 'request denied' && l.api === 'Produce' && l.outcome === 'partial');
    expect(String(partial.at(-1)?.denied)).toContain(other);
    // Straight from the broker: the allowed record is there, the denied topic is empty.
    const check = direct.admin();
    await check.connect();
    try {
      const offs = await check.fetchTopicOffsets(other);
      expect(offs.map((o) => o.high)).toEqual(['0']);
    } finally {
      await check.disconnect();
    }
    const got = await kcat(kafkaBootstrap, ['-C', '-t', paymentsTopic, '-o', 'beginning', '-e', '-q']);
    expect(got.stdout.split('\n')).toContain(allowedValue);
  });

  it('a policy change reaches a running consumer without reconnecting', async () => {
    const topic = uniqueName('payments_live');
    const kafka = client('analytics');
    const producer = client('payments-app').producer();
    await producer.connect();
    const padmin = client('payments-app').admin();
    await padmin.connect();
    await createTopics(padmin, [{ topic, numPartitions: 1 }]);
    await padmin.disconnect();
    await producer.send({ topic, messages: [{ value: 'before' }] });

    const consumer = kafka.consumer({ groupId: uniqueName('analytics-live'), retry: { retries: 0 } });
    const seen: string[] = [];
    let crash: string | undefined;
    consumer.on(consumer.events.CRASH, (e) => void (crash = kafkaErrorType(e.payload.error)));
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
      await waitFor('the first record', () => seen.includes('before'), { timeoutMs: 30_000 });
      const connectionsBefore = gh.proxy.stats.clientConnections;

      // Take Read on payments_* away from analytics (Describe stays, so what fails is the fetch).
      const doc = demoPolicy(AUDIT_TOPIC);
      doc.roles.analytics!.rules = [
        { resource: 'topic', name: 'payments_*', operations: ['Describe'] },
        { resource: 'group', name: 'analytics-*', operations: ['Read', 'Describe'] },
      ];
      writeFileSync(policyFile, stringify(doc));
      await waitFor('policy reloaded', () => gh.logs.some((l) => l.msg === 'policy reloaded'), { timeoutMs: 10_000 });
      await producer.send({ topic, messages: [{ value: 'after' }] });
      await waitFor('the consumer is refused', () => crash, { timeoutMs: 30_000 });
      expect(crash).toBe('TOPIC_AUTHORIZATION_FAILED');
      // (A fetch already waiting at the broker when the policy changed was authorized under the
      // old policy and may still hand out 'after'; every later fetch is refused.)
      // The refusal came on the connections the consumer already had.
      // (The consumer's next Fetch or OffsetCommit, whichever comes first, is refused.)
      const denied = gh.logs.filter((l) => l.msg === 'request denied' && l.principal === 'analytics' && ['Fetch', 'OffsetCommit'].includes(String(l.api)) && l.errorCode === 29);
      expect(denied.length).toBeGreaterThan(0);
      expect(gh.proxy.stats.clientConnections - connectionsBefore).toBeLessThanOrEqual(1);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      const reloads = gh.logs.filter((l) => l.msg === 'policy reloaded').length;
      writeFileSync(policyFile, demoPolicyYaml(AUDIT_TOPIC));
      await waitFor('the demo policy back', () => gh.logs.filter((l) => l.msg === 'policy reloaded').length > reloads, { timeoutMs: 10_000 });
    }
  });

  it('an invalid policy edit is rejected with its reason and the previous policy stays in force', async () => {
    writeFileSync(policyFile, 'roles:\n  admin:\n    rules:\n      - { resource: topic, operations: [Everything] }\n');
    await waitFor('reload rejected', () => gh.logs.find((l) => l.msg === 'policy reload rejected; the previous policy stays in force'), { timeoutMs: 10_000 });
    const rejected = gh.logs.find((l) => l.msg === 'policy reload rejected; the previous policy stays in force')!;
    expect(JSON.stringify(rejected.issues)).toMatch(/line 4: roles\.admin\.rules\.0/);
    const producer = client('payments-app').producer();
    await producer.connect();
    await producer.send({ topic: paymentsTopic, messages: [{ value: 'old policy still applies' }] });
    await producer.disconnect();
    writeFileSync(policyFile, demoPolicyYaml(AUDIT_TOPIC));
  });
});
