/**
 * Masking JSON values through the proxy (issue 12, first slice), with the demo policy, real
 * tokens and real consumers:
 *  - analytics reads payments_* with card.number keeping its last 4 digits and card.holder a
 *    deterministic token (equal holders, equal tokens);
 *  - platform admins are exempt from the card-number rule, and the token rule is for analytics
 *    only: they read the clear values; read directly from the broker, the values are clear;
 *  - Kafka's Java consumer with check.crcs=true reads the masked, re-compressed batches;
 *  - a value that is not JSON on a topic whose rule withholds is handed out as null, and the
 *    connection goes on;
 *  - the audit trail captures payloads (full capture on payments_*) with every rule applied,
 *    whoever read them: an exempt admin's reads leave no clear card number in the trail; the
 *    Fetch events of analytics say which rules masked how many fields.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runTool } from '../../src/kafka/index.js';
import { demoPolicy } from '../../src/sandbox/demo-policy.js';
import { createTopics, kafkaClient, kcat, uniqueName, waitFor } from '../helpers/e2e.js';
import { javaOidcProperties, startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { saslUpstream } from '../helpers/upstream-account.js';

const { CompressionTypes } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');
const classpath = inject('kafkaClasspath');
const upstream = saslUpstream();
const AUDIT_TOPIC = '__gatehouse_audit';

const payment = (i: number) => ({ id: i, card: { number: `41111111111${String(1000 + i).padStart(5, '0')}`, holder: i % 2 === 0 ? 'Jane Doe' : 'John Roe' }, amount: 10 + i });
type Payment = ReturnType<typeof payment>;

describe('masking JSON values on their way to consumers', () => {
  const topic = uniqueName('payments_mask');
  const rawTopic = uniqueName('payments_rawmask');
  const N = 20;
  const auditTopic = uniqueName('mask-audit');
  let oidc: TestOidc;
  let gh: TestProxy;

  /** kcat consuming `t` from the beginning through the proxy as a demo client (its token as the PLAIN password): its first `count` output lines in `format`. */
  async function consumeAs(clientId: string, t: string, count: number, format = '%s\\n'): Promise<string[]> {
    const token = await oidc.token(clientId);
    const sasl = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', `sasl.username=${clientId}`, '-X', `sasl.password=${token}`];
    const r = await kcat(gh.bootstrap, [...sasl, '-C', '-t', t, '-o', 'beginning', '-c', String(count), '-e', '-q', '-X', 'check.crcs=true', '-f', format]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.split('\n').slice(0, count);
  }
  const readAs = (clientId: string, t: string, count: number) => consumeAs(clientId, t, count);

  beforeAll(async () => {
    oidc = await startOidc();
    const doc = {
      ...demoPolicy(AUDIT_TOPIC),
      masking: {
        keys: { k1: { secret: 'an-e2e-masking-key-0123456789' } },
        rules: [
          { name: 'card-number', topics: ['payments_*'], fields: ['card.number'], mask: { fn: 'keepLast', n: 4 }, exempt: { roles: ['admin'] } },
          { name: 'holder-token', topics: ['payments_*'], fields: ['card.holder'], mask: { fn: 'token', key: 'k1' }, only: { roles: ['analytics'] } },
          { name: 'raw-withheld', topics: ['payments_rawmask*'], fields: ['secret'], mask: { fn: 'redact' }, onError: 'withhold' },
          { name: 'customer-header', topics: ['payments_mask*'], part: 'header:customer', fields: ['$'], mask: { fn: 'regex', pattern: '^[^@]+', replacement: '***' }, exempt: { roles: ['admin'] } },
        ],
      },
    };
    const dir = mkdtempSync(join(tmpdir(), 'gh-masking-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, stringify(doc));
    gh = await startProxy(upstream.bootstrap, {
      upstream: { sasl: upstream.sasl },
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      policy: { file: policyFile },
      audit: { topic: auditTopic, spool: { dir: join(dir, 'spool') }, capture: [{ topics: ['payments_mask*'], mode: 'full' }] },
    });
    const kafka = kafkaClient(kafkaBootstrap);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopics(admin, [topic, rawTopic].map((t) => ({ topic: t, numPartitions: 1 })));
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic, compression: CompressionTypes.GZIP, messages: Array.from({ length: N }, (_, i) => ({ key: `p${i}`, value: JSON.stringify(payment(i)), headers: { customer: `customer${i}@example.com` } })) });
      await producer.send({ topic: rawTopic, messages: [{ value: 'not json at all' }, { value: JSON.stringify({ secret: 's3cret', keep: 1 }) }] });
    } finally {
      await producer.disconnect();
    }
  });
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
  });

  it('analytics sees the last 4 digits and a token; admins and direct readers the clear values', async () => {
    const analytics = (await readAs('analytics', topic, N)).map((l) => JSON.parse(l) as Payment);
    const admin = (await readAs('admin', topic, N)).map((l) => JSON.parse(l) as Payment);
    const direct = await kcat(kafkaBootstrap, ['-C', '-t', topic, '-o', 'beginning', '-c', String(N), '-e', '-q', '-f', '%s\\n']);
    const clear = Array.from({ length: N }, (_, i) => payment(i));

    expect(direct.stdout.split('\n').slice(0, N).map((l) => JSON.parse(l))).toEqual(clear);
    expect(admin).toEqual(clear);
    analytics.forEach((p, i) => {
      expect(p.card.number).toBe('*'.repeat(12) + clear[i]!.card.number.slice(-4));
      expect(p.card.holder).toMatch(/^tok_k1_[\w-]{22}$/);
      expect({ ...p, card: undefined }).toEqual({ ...clear[i], card: undefined });
    });
    // Deterministic: equal holders, equal tokens; different holders, different tokens.
    expect(new Set(analytics.filter((_, i) => i % 2 === 0).map((p) => p.card.holder)).size).toBe(1);
    expect(analytics[0]!.card.holder).not.toBe(analytics[1]!.card.holder);
  });

  it('a header value is masked as a plain string for analytics, clear for admins', async () => {
    const headersOf = (clientId: string) => consumeAs(clientId, topic, 3, '%h\\n');
    expect(await headersOf('analytics')).toEqual(['customer=***@example.com', 'customer=***@example.com', 'customer=***@example.com']);
    expect(await headersOf('admin')).toEqual(['customer=customer0@example.com', 'customer=customer1@example.com', 'customer=customer2@example.com']);
  });

  it("Kafka's Java consumer (check.crcs=true) reads the masked gzip batches through the proxy", async () => {
    const jvmArgs = [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${oidc.tokenEndpoint}`];
    const r = await runTool(
      classpath,
      'console-consumer',
      [
        '--bootstrap-server', gh.bootstrap, '--topic', topic, '--group', uniqueName('analytics-mask'), '--from-beginning',
        '--max-messages', String(N), '--timeout-ms', '60000', '--consumer-property', 'check.crcs=true',
        ...javaOidcProperties(oidc, 'analytics').flatMap((p) => ['--consumer-property', p]),
      ],
      { jvmArgs },
    );
    expect(r.code, r.stderr).toBe(0);
    const values = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Payment);
    expect(values).toHaveLength(N);
    for (const v of values) expect(v.card.number).toMatch(/^\*{12}\d{4}$/);
  });

  it('captured payloads in the audit trail are masked whoever read them', async () => {
    await readAs('admin', topic, N); // exempt: reads the clear values
    const clearNumbers = Array.from({ length: N }, (_, i) => payment(i).card.number);
    const consumer = kafkaClient(kafkaBootstrap).consumer({ groupId: uniqueName('mask-audit-reader') });
    const captured: string[] = [];
    let adminFetches = 0;
    const reported: Array<Record<string, unknown>> = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [auditTopic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const e = JSON.parse(String(message.value)) as { data?: { api?: string; principal?: string; fetched?: Array<{ captured?: Array<{ value?: string | null }> }>; masked?: Array<Record<string, unknown>> } };
          if (e.data?.api !== 'Fetch') return;
          if (e.data.principal === 'analytics') reported.push(...(e.data.masked ?? []));
          const values = (e.data.fetched ?? []).flatMap((f) => f.captured ?? []).map((c) => c.value ?? '');
          if (e.data.principal === 'admin' && values.length > 0) adminFetches++;
          captured.push(...values);
        },
      });
      await waitFor('captured Fetch records of the admin, and the analytics reads', () => adminFetches > 0 && reported.length > 0, { timeoutMs: 30_000 });
    } finally {
      await consumer.disconnect();
    }
    const text = captured.join('\n');
    for (const n of clearNumbers) expect(text).not.toContain(n);
    expect(captured.filter((v) => v.includes('"number":"************'))).not.toHaveLength(0);
    // What masking did to analytics's reads is in its Fetch events: rules and counts, never values.
    expect(reported).toContainEqual({ topic, partition: 0, rule: 'card-number', part: 'value', fields: N, withheld: 0 });
    expect(reported).toContainEqual({ topic, partition: 0, rule: 'holder-token', part: 'value', fields: N, withheld: 0 });
  });

  it('a value that is not JSON is withheld (null) where the rule says so; the JSON one is masked', async () => {
    const [first, second] = await consumeAs('analytics', rawTopic, 2, '%S|%s\\n');
    expect(first).toBe('-1|'); // a null value: kcat prints its length as -1
    expect(JSON.parse(second!.slice(second!.indexOf('|') + 1))).toEqual({ secret: '****', keep: 1 });
  });
});
