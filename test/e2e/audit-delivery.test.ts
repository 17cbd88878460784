/**
 * Delivery without loss: the audit topic lives on a dedicated second broker, which is stopped in
 * the middle of a client's session and started again on the same ports and data. Meanwhile the
 * proxy (fail-closed) spools its events and refuses Produce with a retriable error (a producer
 * with enough retries gets through once the audit topic is back) and closes other requests;
 * afterwards every event is in the topic exactly once, in order (`gatehouse audit verify`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import kafkajs from 'kafkajs';
import { freePorts, startBroker, type Broker } from '../../src/kafka/broker.js';
import { createTopics, gatehouse, GATEHOUSE_BIN, kafkaClient, uniqueName, waitFor } from '../helpers/e2e.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { isResponse, type InterceptedResponse, type Stage } from '../../src/stage/stage.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const { Kafka, logLevel } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');
const kafkaVersion = inject('kafkaVersion');


/** Counts Fetch responses that carry KAFKA_STORAGE_ERROR (the fail-closed answer), as the client sees them. */
class FetchWatch implements Stage {
  readonly name = 'fetch-watch';
  readonly interest = { responses: new Set([ApiKey.Fetch]) };
  refused = 0;
  onResponse(res: InterceptedResponse): void {
    if (!isResponse(res, ApiKey.Fetch)) return;
    const body = res.body();
    if (body.responses.some((t) => t.partitions.some((p) => p.errorCode === 56))) this.refused++;
  }
}

describe('audit delivery while the audit broker is away', () => {
  let auditBroker: Broker | undefined;
  let gh: TestProxy;
  let dir: string;
  let ports: number[];
  const auditTopic = uniqueName('audit-delivery');
  const topic = uniqueName('audit-delivery-data');
  const watch = new FetchWatch();
  const fetchRefused = () => watch.refused > 0;
  const brokerOpts = () => ({ version: kafkaVersion, port: ports[0]!, controllerPort: ports[1]!, workDir: join(dir, 'kafka') });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-audit-delivery-'));
    ports = await freePorts(2);
    auditBroker = await startBroker(brokerOpts());
    gh = await startProxy(kafkaBootstrap, {
      audit: {
        topic: auditTopic,
        bootstrap: [auditBroker.bootstrap],
        mode: 'fail-closed',
        spool: { dir: join(dir, 'spool') },
        retryMaxMs: 500,
        createTopic: { partitions: 2, replicationFactor: 1 },
      },
    }, { extraStages: [watch] });
  });
  afterAll(async () => {
    await gh?.stop();
    await auditBroker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('spools, refuses (fail-closed) and then delivers every event once, in order', async () => {
    const client = (retries: number) =>
      new Kafka({ clientId: 'audit-delivery', brokers: [gh.bootstrap], logLevel: logLevel.NOTHING, retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 } });
    const admin = kafkaClient(gh.bootstrap).admin();
    await admin.connect();
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    await admin.disconnect();
    const producer = client(1).producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'before' }] });

    await auditBroker!.stop();
    // The next request's event cannot be delivered: it goes to the spool, and the proxy knows.
    await producer.send({ topic, messages: [{ value: 'as it went down' }] }).catch(() => undefined);
    await waitFor('the audit topic to be reported unreachable', () => gh.logs.some((l) => l.code === 'GH_AUDIT_UNREACHABLE'), { timeoutMs: 30_000 });

    // fail-closed: Produce is refused with a retriable error; other requests are cut off.
    const refused = await producer.send({ topic, messages: [{ value: 'refused' }] }).then(() => 'accepted', (err: Error & { originalError?: { type?: string } }) => `${err.message} ${err.originalError?.type ?? ''}`);
    expect(refused).toMatch(/NOT_ENOUGH_REPLICAS|replicas/i);
    const probe = kafkaClient(gh.bootstrap).admin({ retry: { retries: 0 } });
    await probe.connect();
    expect(await probe.listTopics()).toContain(topic); // housekeeping (Metadata) passes
    await expect(probe.createTopics({ topics: [{ topic: `${topic}-2` }] })).rejects.toThrow(); // a mutation is cut off
    await probe.disconnect().catch(() => undefined);
    expect(gh.logs.some((l) => typeof l.reason === 'string' && l.reason.includes('audit trail unavailable (fail-closed)'))).toBe(true);

    // A consumer meanwhile: its fetches are answered with a retriable error, nothing handed out.
    const received: string[] = [];
    const consumer = client(40).consumer({ groupId: uniqueName('audit-delivery-group'), retry: { retries: 40, initialRetryTime: 100, maxRetryTime: 1000 } });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    void consumer.run({ eachMessage: async ({ message }) => void received.push(message.value!.toString()) });
    await waitFor('a refused fetch', () => fetchRefused(), { timeoutMs: 20_000 });
    expect(received).toEqual([]);

    // A producer with patience: it retries until the audit topic is back.
    const patient = client(40).producer();
    await patient.connect().catch(() => undefined);
    const patientSend = patient.send({ topic, messages: [{ value: 'after' }] });

    auditBroker = await startBroker(brokerOpts());
    await waitFor('the spool to be sent', () => gh.logs.some((l) => l.code === 'GH_AUDIT_RECOVERED'), { timeoutMs: 60_000 });
    await patientSend;
    await waitFor('the consumer to get the records once the audit topic is back', () => received.includes('before') && received.includes('after'), { timeoutMs: 30_000 });
    await consumer.disconnect();
    await producer.send({ topic, messages: [{ value: 'again' }] });
    await producer.disconnect();
    await patient.disconnect();
    await gh.stop();

    // Every event once, in order: seq 0..n-1 with no gap or duplicate, chain intact.
    const configFile = join(dir, 'gatehouse.yaml');
    writeFileSync(configFile, [`upstream: { bootstrap: ["${kafkaBootstrap}"] }`, `audit: { topic: ${auditTopic}, bootstrap: ["${auditBroker.bootstrap}"] }`, ''].join('\n'));
    const verify = await gatehouse(['audit', 'verify', '--config', configFile, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const report = JSON.parse(verify.stdout) as { ok: boolean; events: number; instances: Record<string, { first: number; last: number; events: number }> };
    expect(report.ok).toBe(true);
    const [chain] = Object.values(report.instances);
    expect(chain!.first).toBe(0);
    expect(chain!.events).toBe(chain!.last + 1);
    expect(report.events).toBe(chain!.events);

    // tail follows the topic: from the start here, printing every event, until Ctrl-C.
    const tail = spawn(process.execPath, [GATEHOUSE_BIN, 'audit', 'tail', '--config', configFile, '--json', '--since', 'all'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tailed = '';
    tail.stdout.on('data', (d: Buffer) => (tailed += d.toString()));
    await waitFor('tail to print every event', () => tailed.split('\n').filter(Boolean).length >= report.events, { timeoutMs: 30_000 });
    const exited = new Promise<number | null>((r) => tail.once('exit', r));
    tail.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(tailed.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { seq: number }).seq).sort((a, b) => a - b)).toEqual(Array.from({ length: report.events }, (_, i) => i));

    // The refusals are on record too.
    const sessions = await gatehouse(['audit', 'sessions', '--config', configFile, '--json', '--outcome', 'denied']);
    expect(sessions.code, sessions.stderr).toBe(0);
    expect(sessions.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(1);
  });
});
