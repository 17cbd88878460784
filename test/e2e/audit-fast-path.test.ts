/**
 * The product's data path with audit on: a large Fetch answer stays on the fast path (cut
 * through, its records moved by the kernel's splice relay), reaches the client byte for byte as
 * the broker sent it, and the audit trail still records the offsets handed out, read from the
 * batch headers as they passed. The same answer held whole (another stage wants all of it) gives
 * the same audit record; a Fetch of a captured topic is held whole so its records can be captured.
 * A share consumer's ShareFetch answers (KIP-932; Kafka 4 only) are held whole, since every
 * version may carry broker addresses after its records (node endpoints the proxy rewrites); they
 * are recorded all the same.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiKey, writeRequestHeader } from '../../protocol/generated/index.js';
import { defaultFetchPartition, defaultFetchRequest, defaultFetchTopic, writeFetchRequest } from '../../protocol/generated/fetch-request.js';
import { Writer } from '../../protocol/runtime/index.js';
import type { AuditKind, RequestData } from '../../src/audit/events.js';
import { CapturePolicy } from '../../src/audit/capture.js';
import { AuditIntake, AuditRecorder, type Recorder } from '../../src/audit/recorder.js';
import { FrameReader, joinFrame } from '../../src/proxy/frame-reader.js';
import type { Stage } from '../../src/stage/stage.js';
import type { IncrementalAlterConfigsResponse } from '../../protocol/generated/incremental-alter-configs-response.js';
import { kafkaMajor, runTool } from '../../src/kafka/index.js';
import { createTopics, kafkaClient, uniqueName, waitFor } from '../helpers/e2e.js';
import { RawClient } from '../helpers/sasl-client.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const classpath = inject('kafkaClasspath');
const kafkaVersion = inject('kafkaVersion');

/** Keeps the events an audit stage emits. */
class Events implements Recorder {
  readonly list: Array<{ kind: AuditKind; data: unknown }> = [];
  emit(kind: AuditKind, _subject: string, data: unknown) {
    this.list.push({ kind, data });
    return {} as never;
  }
  refusing(): boolean {
    return false;
  }
  fetches(): RequestData[] {
    return this.list.filter((e) => e.kind === 'request' && (e.data as RequestData).api === 'Fetch').map((e) => e.data as RequestData);
  }
}

/** Fetch v12 of partition 0 from offset 0, up to 8 MiB. */
function fetchFrame(correlationId: number, topic: string): Buffer {
  const w = new Writer(256);
  w.int32(0);
  writeRequestHeader(w, 2, { requestApiKey: ApiKey.Fetch, requestApiVersion: 12, correlationId, clientId: 'fast-path' });
  const f = defaultFetchRequest();
  Object.assign(f, { replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 8 << 20, sessionEpoch: -1 });
  f.topics = [{ ...defaultFetchTopic(), topic, partitions: [{ ...defaultFetchPartition(), partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, partitionMaxBytes: 8 << 20 }] }];
  writeFetchRequest(w, 12, f);
  const out = Buffer.from(w.finish());
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

async function fetchOnce(bootstrap: string, topic: string): Promise<Buffer> {
  const i = bootstrap.lastIndexOf(':');
  const socket: Socket = connect({ host: bootstrap.slice(0, i), port: Number(bootstrap.slice(i + 1)) });
  const frames = new FrameReader(1 << 30, 'test');
  const got: Buffer[] = [];
  socket.on('data', (c: Buffer) => got.push(...frames.push(c).map(joinFrame)));
  socket.write(fetchFrame(1, topic));
  try {
    await waitFor('the Fetch answer', () => got.length === 1, { timeoutMs: 15_000 });
  } finally {
    socket.destroy();
  }
  return got[0]!;
}

/** A stage that wants Fetch answers whole (as masking will), which takes them off the fast path. */
const holdsFetch: Stage = { name: 'holds-fetch', interest: { responses: new Set([ApiKey.Fetch]) }, onResponse: () => undefined };

describe('audit on the fast path', () => {
  const topic = uniqueName('fast-path');
  const proxies: TestProxy[] = [];
  const audited = (extra: Stage[] = [], capture = new CapturePolicy()) => {
    const events = new Events();
    return { events, stages: [new AuditIntake(events, 't'), ...extra, new AuditRecorder(events, 't', capture)] };
  };

  beforeAll(async () => {
    const kafka = kafkaClient(kafkaBootstrap);
    const admin = kafka.admin();
    const producer = kafka.producer();
    await admin.connect();
    await producer.connect();
    try {
      await createTopics(admin, [{ topic, numPartitions: 1 }]);
      const value = Buffer.alloc(1024, 'x');
      for (let i = 0; i < 4; i++) await producer.send({ topic, acks: -1, messages: Array.from({ length: 500 }, (_, j) => ({ key: `k${i}-${j}`, value })) });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
  afterAll(async () => {
    for (const p of proxies) await p.stop();
  });

  it('relays a large Fetch answer by splice, byte for byte, and records the offsets it handed out', async () => {
    const direct = await fetchOnce(kafkaBootstrap, topic);
    const fast = audited();
    const gh = await startProxy(kafkaBootstrap, {}, { stages: fast.stages });
    proxies.push(gh);
    const relayedBefore = gh.proxy.stats.zeroCopyBytes;
    const proxied = await fetchOnce(gh.bootstrap, topic);
    expect(proxied.equals(direct)).toBe(true);
    expect(gh.proxy.stats.cutThroughResponses).toBeGreaterThan(0);
    expect(gh.proxy.stats.zeroCopyBytes - relayedBefore).toBeGreaterThan(1_500_000);
    await waitFor('the Fetch event', () => fast.events.fetches().length === 1);
    const [event] = fast.events.fetches();
    expect(event!.fetched).toEqual([{ topic, partition: 0, fetchOffset: 0, firstOffset: 0, lastOffset: 1999, records: 2000, highWatermark: 2000, errorCode: 0 }]);
    expect(event!.bytesOut).toBe(direct.length); // size prefix included

    // Held whole instead, the same answer gives the same record.
    const held = audited([holdsFetch]);
    const slow = await startProxy(kafkaBootstrap, {}, { stages: held.stages });
    proxies.push(slow);
    expect((await fetchOnce(slow.bootstrap, topic)).equals(direct)).toBe(true);
    expect(slow.proxy.stats.zeroCopyBytes).toBe(0);
    await waitFor('the Fetch event', () => held.events.fetches().length === 1);
    const { latencyMs: _a, ...fastEvent } = event!;
    const { latencyMs: _b, ...heldEvent } = held.events.fetches()[0]!;
    expect(heldEvent).toEqual(fastEvent);
  });

  it('holds a Fetch of a captured topic whole and captures its records', async () => {
    const capturing = audited([], new CapturePolicy([{ topics: [topic], mode: 'keys-headers' }]));
    const gh = await startProxy(kafkaBootstrap, {}, { stages: capturing.stages });
    proxies.push(gh);
    await fetchOnce(gh.bootstrap, topic);
    expect(gh.proxy.stats.zeroCopyBytes).toBe(0);
    await waitFor('the Fetch event', () => capturing.events.fetches().length === 1);
    const fetched = capturing.events.fetches()[0]!.fetched![0]!;
    expect(fetched.records).toBe(2000);
    expect(fetched.captured).toHaveLength(1000); // the capture's cap per partition
    expect(fetched.captured![0]).toMatchObject({ key: 'k0-0' });
  });

  it.runIf(kafkaMajor(kafkaVersion) >= 4)("a share consumer reads through the proxy with audit on, and each ShareFetch answer is recorded", async () => {
    const group = uniqueName('fast-path-share');
    // A share group starts at the latest offset unless its config says otherwise.
    const raw = await RawClient.open(kafkaBootstrap);
    try {
      const res = await raw.request<IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs, 1, {
        validateOnly: false,
        resources: [{ resourceType: 32, resourceName: group, configs: [{ name: 'share.auto.offset.reset', configOperation: 0, value: 'earliest' }] }],
      });
      expect(res.responses.map((r) => r.errorCode)).toEqual([0]);
    } finally {
      raw.close();
    }
    const fast = audited();
    const gh = await startProxy(kafkaBootstrap, {}, { stages: fast.stages });
    proxies.push(gh);
    const consumed = await runTool(classpath, 'console-share-consumer', ['--bootstrap-server', gh.bootstrap, '--topic', topic, '--group', group, '--max-messages', '2000', '--timeout-ms', '60000']);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout.split('\n').filter((l) => l === 'x'.repeat(1024))).toHaveLength(2000);
    const shareFetches = () => fast.events.list.filter((e) => e.kind === 'request' && (e.data as RequestData).api === 'ShareFetch').map((e) => e.data as RequestData);
    await waitFor('ShareFetch events', () => shareFetches().length > 0);
    // Every ShareFetch answer recorded, with the bytes it carried.
    expect(shareFetches().reduce((n, e) => n + e.bytesOut, 0)).toBeGreaterThan(2000 * 1024);
  });

});
