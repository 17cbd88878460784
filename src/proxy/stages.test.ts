/**
 * The stage interface, end to end through a real broker: stages that delay, answer, change,
 * refuse or fail; responses in request order; Produce acks=0; ApiVersions capping and
 * negotiation; graceful stop with a request in flight.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiCodec, ApiKey, readResponseHeader, writeRequestHeader } from '../../protocol/generated/index.js';
import { readApiVersionsResponse, type ApiVersionsResponse } from '../../protocol/generated/api-versions-response.js';
import { defaultMetadataRequest, writeMetadataRequest } from '../../protocol/generated/metadata-request.js';
import { defaultListGroupsResponse, type ListGroupsResponse } from '../../protocol/generated/list-groups-response.js';
import { defaultDescribeClusterRequest, writeDescribeClusterRequest } from '../../protocol/generated/describe-cluster-request.js';
import { readDescribeClusterResponse } from '../../protocol/generated/describe-cluster-response.js';
import { defaultFetchPartition, defaultFetchRequest, defaultFetchTopic, writeFetchRequest } from '../../protocol/generated/fetch-request.js';
import { readFetchResponse } from '../../protocol/generated/fetch-response.js';
import { Reader, Writer } from '../../protocol/runtime/index.js';
import { createTopics, kafkaClient, uniqueName, waitFor } from '../../test/helpers/e2e.js';
import { startProxy, type TestProxy } from '../../test/helpers/proxy.js';
import { FrameReader, joinFrame } from './frame-reader.js';
import { isRequest, isResponse, type InterceptedRequest, type InterceptedResponse, type Stage } from '../stage/stage.js';

const kafkaBootstrap = inject('kafkaBootstrap');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw connection that sends encoded requests and collects whole response frames. */
class RawClient {
  readonly responses: Buffer[] = [];
  closed = false;
  private readonly frames = new FrameReader(1 << 30, 'test');
  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => this.responses.push(...this.frames.push(c).map(joinFrame)));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }
  static open(bootstrap: string): Promise<RawClient> {
    const i = bootstrap.lastIndexOf(':');
    return new Promise((resolve, reject) => {
      const s = connect({ host: bootstrap.slice(0, i), port: Number(bootstrap.slice(i + 1)) }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }
  static frame(apiKey: number, version: number, correlationId: number, body: (w: Writer) => void): Buffer {
    const codec = apiCodec(apiKey)!;
    const w = new Writer(128);
    w.int32(0);
    const flexible = codec.requestFlexibleFrom >= 0 && version >= codec.requestFlexibleFrom;
    writeRequestHeader(w, flexible ? 2 : 1, { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: 'raw-stage-test' });
    body(w);
    const out = Buffer.from(w.finish());
    out.writeInt32BE(out.length - 4, 0);
    return out;
  }
  correlationIds(): number[] {
    return this.responses.map((r) => r.readInt32BE(4));
  }
}

const metadataFrame = (corr: number) =>
  RawClient.frame(ApiKey.Metadata, 12, corr, (w) => {
    const m = defaultMetadataRequest();
    m.topics = [];
    writeMetadataRequest(w, 12, m);
  });
const apiVersionsFrame = (corr: number, version = 3) =>
  RawClient.frame(ApiKey.ApiVersions, version, corr, (w) => {
    if (version >= 3) {
      w.compactString('raw');
      w.compactString('1');
      w.uvarint(0);
    }
  });

/** Fetch v12 (topic names) of one partition from offset 0, up to 8 MiB. */
const fetchFrame = (corr: number, topic: string) =>
  RawClient.frame(ApiKey.Fetch, 12, corr, (w) => {
    const f = defaultFetchRequest();
    Object.assign(f, { replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 8 << 20, sessionEpoch: -1 });
    const partition = { ...defaultFetchPartition(), partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, partitionMaxBytes: 8 << 20 };
    f.topics = [{ ...defaultFetchTopic(), topic, partitions: [partition] }];
    writeFetchRequest(w, 12, f);
  });

function decodeFetchRecordBytes(frame: Buffer): number {
  const r = new Reader(frame, 4);
  readResponseHeader(r, 1);
  const body = readFetchResponse(r, 12);
  r.done('fetch response');
  expect(body.errorCode).toBe(0);
  const p = body.responses[0]!.partitions[0]!;
  expect(p.errorCode).toBe(0);
  return p.records?.length ?? 0;
}

function decodeApiVersions(frame: Buffer, version: number): ApiVersionsResponse {
  const r = new Reader(frame, 4);
  readResponseHeader(r, 0);
  return readApiVersionsResponse(r, version);
}

describe('stages', () => {
  const seenByLast: string[] = [];
  const delayMetadata: Stage = {
    name: 'delay-metadata',
    interest: { responses: new Set([ApiKey.Metadata]) },
    async onResponse() {
      await sleep(150);
    },
  };
  const answerListGroups: Stage = {
    name: 'answer-list-groups',
    interest: { requests: new Set([ApiKey.ListGroups]) },
    onRequest() {
      const body: ListGroupsResponse = defaultListGroupsResponse();
      body.groups = [{ groupId: 'made-up-by-a-stage', protocolType: 'consumer', groupState: 'Stable', groupType: 'classic' }];
      return { respond: body };
    },
  };
  const threePartitions: Stage = {
    name: 'three-partitions',
    interest: { requests: new Set([ApiKey.CreateTopics]) },
    onRequest(req: InterceptedRequest) {
      if (!isRequest(req, ApiKey.CreateTopics)) return;
      const body = req.body();
      for (const t of body.topics) if (t.name.startsWith('stage-three-')) t.numPartitions = 3;
      req.setBody(body);
    },
  };
  const failDescribeGroups: Stage = {
    name: 'fail-describe-groups',
    interest: { requests: new Set([ApiKey.DescribeGroups]) },
    onRequest() {
      throw new Error('deliberate failure');
    },
  };
  const refuseDeleteTopics: Stage = {
    name: 'refuse-delete-topics',
    interest: { requests: new Set([ApiKey.DeleteTopics]) },
    onRequest: () => ({ close: 'topic deletion is not allowed here' }),
  };
  const hookDescribeCluster: Stage = {
    name: 'hook-describe-cluster',
    interest: { requests: new Set([ApiKey.DescribeCluster]) },
    onRequest(req: InterceptedRequest) {
      const tag = req.header.clientId;
      req.interceptResponse((res) => {
        if (!isResponse(res, ApiKey.DescribeCluster)) return;
        const body = res.body();
        body.clusterId = `hooked-by-${tag}`;
        res.setBody(body);
      });
    },
  };
  const last: Stage = {
    name: 'last',
    interest: { requests: 'all' },
    onRequest(req: InterceptedRequest) {
      seenByLast.push(req.header.apiName);
    },
  };
  let gh: TestProxy;

  beforeAll(async () => {
    gh = await startProxy(kafkaBootstrap, {}, { stages: [delayMetadata, answerListGroups, threePartitions, failDescribeGroups, refuseDeleteTopics, hookDescribeCluster, last] });
  });
  afterAll(async () => {
    await gh?.stop();
  });

  it('answers pipelined requests in request order even when a stage delays an earlier response', async () => {
    const c = await RawClient.open(gh.bootstrap);
    c.socket.write(Buffer.concat([metadataFrame(1), apiVersionsFrame(2), metadataFrame(3), apiVersionsFrame(4), metadataFrame(5)]));
    await waitFor('c.responses.length === 5', () => c.responses.length === 5, { timeoutMs: 10_000 });
    expect(c.correlationIds()).toEqual([1, 2, 3, 4, 5]);
    c.socket.destroy();
  });

  it('cuts a large Fetch response through when it is next in line, and keeps it behind an earlier response a stage delays', async () => {
    const topic = uniqueName('stage-cut-through');
    const admin = kafkaClient(gh.bootstrap).admin();
    await admin.connect();
    const producer = kafkaClient(kafkaBootstrap).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await createTopics(admin, [{ topic, numPartitions: 1 }]);
      const value = Buffer.alloc(1024, 'x');
      for (let i = 0; i < 4; i++) await producer.send({ topic, acks: -1, messages: Array.from({ length: 500 }, () => ({ value })) });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }

    // The broker's own answer, for comparison.
    const direct = await RawClient.open(kafkaBootstrap);
    direct.socket.write(fetchFrame(1, topic));
    await waitFor('direct answer', () => direct.responses.length === 1, { timeoutMs: 10_000 });
    direct.socket.destroy();

    // Next in line: the response goes to the client while it is still arriving from the broker,
    // most of it moved by the kernel's zero-copy relay, byte for byte what the broker sent.
    const before = gh.proxy.stats.cutThroughResponses;
    const relayedBefore = gh.proxy.stats.zeroCopyBytes;
    const a = await RawClient.open(gh.bootstrap);
    a.socket.write(fetchFrame(1, topic));
    await waitFor('a.responses.length === 1', () => a.responses.length === 1, { timeoutMs: 10_000 });
    expect(decodeFetchRecordBytes(a.responses[0]!)).toBeGreaterThan(2_000_000);
    expect(a.responses[0]!.equals(direct.responses[0]!)).toBe(true);
    expect(gh.proxy.stats.cutThroughResponses).toBe(before + 1);
    expect(gh.proxy.stats.zeroCopyBytes - relayedBefore).toBeGreaterThan(1_500_000);
    a.socket.destroy();

    // Without the relay (performance.zeroCopy: false) the same bytes go through the process.
    const plain = await startProxy(kafkaBootstrap, { performance: { zeroCopy: false } }, { stages: [] });
    try {
      const p = await RawClient.open(plain.bootstrap);
      p.socket.write(fetchFrame(1, topic));
      await waitFor('plain answer', () => p.responses.length === 1, { timeoutMs: 10_000 });
      expect(p.responses[0]!.equals(direct.responses[0]!)).toBe(true);
      expect(plain.proxy.stats.cutThroughResponses).toBe(1);
      expect(plain.proxy.stats.zeroCopyBytes).toBe(0);
      p.socket.destroy();
    } finally {
      await plain.stop();
    }

    // A client that goes away in the middle of a relayed response costs its own connection only.
    const closedBefore = gh.proxy.stats.closedByCode['GH_CLIENT_CLOSED'] ?? 0;
    const gone = await RawClient.open(gh.bootstrap);
    gone.socket.pause();
    gone.socket.write(Buffer.concat([1, 2, 3, 4].map((i) => fetchFrame(i, topic))));
    await sleep(300);
    gone.socket.resetAndDestroy();
    await waitFor('the connection closed', () => (gh.proxy.stats.closedByCode['GH_CLIENT_CLOSED'] ?? 0) > closedBefore, { timeoutMs: 10_000 });
    const after = await RawClient.open(gh.bootstrap);
    after.socket.write(fetchFrame(9, topic));
    await waitFor('a later client is served', () => after.responses.length === 1, { timeoutMs: 10_000 });
    expect(after.responses[0]!.subarray(8).equals(direct.responses[0]!.subarray(8))).toBe(true);
    after.socket.destroy();

    // The same through a client that does not read for a while: the proxy stops reading the
    // broker when the client's socket is full, and every byte still arrives, in order.
    const slow = await RawClient.open(gh.bootstrap);
    slow.socket.pause();
    // Six responses of 2 MB, more than the loopback socket buffers hold.
    slow.socket.write(Buffer.concat([1, 2, 3, 4, 5, 6].map((i) => fetchFrame(i, topic))));
    await sleep(500);
    slow.socket.resume();
    await waitFor('slow.responses.length === 6', () => slow.responses.length === 6, { timeoutMs: 20_000 });
    expect(slow.correlationIds()).toEqual([1, 2, 3, 4, 5, 6]);
    for (const r of slow.responses) expect(r.subarray(8).equals(a.responses[0]!.subarray(8))).toBe(true);
    expect(gh.proxy.stats.cutThroughResponses).toBeGreaterThan(before + 1);
    expect(gh.proxy.stats.zeroCopyBytes - relayedBefore).toBeGreaterThan(6 * 1_500_000);
    slow.socket.destroy();

    // Behind a Metadata response the delay-metadata stage holds for 150 ms: the Fetch response
    // (which the broker sends meanwhile) waits its turn, whole, and so does what follows it; a
    // client that reads slowly (paused for a while) still gets every byte in order.
    const b = await RawClient.open(gh.bootstrap);
    b.socket.pause();
    b.socket.write(Buffer.concat([metadataFrame(1), fetchFrame(2, topic), metadataFrame(3), fetchFrame(4, topic), apiVersionsFrame(5)]));
    await sleep(400);
    b.socket.resume();
    await waitFor('b.responses.length === 5', () => b.responses.length === 5, { timeoutMs: 10_000 });
    expect(b.correlationIds()).toEqual([1, 2, 3, 4, 5]);
    const first = decodeFetchRecordBytes(b.responses[1]!);
    expect(first).toBeGreaterThan(2_000_000);
    expect(decodeFetchRecordBytes(b.responses[3]!)).toBe(first);
    expect(b.responses[1]!.subarray(8).equals(a.responses[0]!.subarray(8))).toBe(true); // the same bytes after the correlation id
    b.socket.destroy();
  });

  it('lets a stage see one request\'s response without declaring interest in the API', async () => {
    const c = await RawClient.open(gh.bootstrap);
    c.socket.write(RawClient.frame(ApiKey.DescribeCluster, 0, 7, (w) => writeDescribeClusterRequest(w, 0, defaultDescribeClusterRequest())));
    await waitFor('DescribeCluster answer', () => c.responses.length === 1, { timeoutMs: 10_000 });
    const r = new Reader(c.responses[0]!, 4);
    readResponseHeader(r, 1);
    const body = readDescribeClusterResponse(r, 0);
    expect(body.errorCode).toBe(0);
    expect(body.clusterId).toBe('hooked-by-raw-stage-test');
    c.socket.destroy();
  });

  it('lets a stage answer a request itself: the client gets its answer and later stages never see the request', async () => {
    const admin = kafkaClient(gh.bootstrap).admin();
    await admin.connect();
    try {
      const { groups } = await admin.listGroups();
      expect(groups.map((g) => g.groupId)).toEqual(['made-up-by-a-stage']);
      expect(seenByLast).not.toContain('ListGroups');
    } finally {
      await admin.disconnect();
    }
  });

  it('lets a stage change a request: the broker acts on the changed body', async () => {
    const topic = uniqueName('stage-three');
    const admin = kafkaClient(gh.bootstrap).admin();
    await admin.connect();
    try {
      await createTopics(admin, [{ topic, numPartitions: 1 }]);
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(md.topics[0]!.partitions).toHaveLength(3);
    } finally {
      await admin.disconnect();
    }
  });

  it('a failing stage costs its connection only; a stage may also close one with its reason', async () => {
    const before = gh.proxy.stats.closedByCode.GH_STAGE_FAILED ?? 0;
    const c = await RawClient.open(gh.bootstrap);
    c.socket.write(RawClient.frame(ApiKey.DescribeGroups, 5, 9, (w) => {
      w.uvarint(2);
      w.compactString('g');
      w.bool(false);
      w.uvarint(0);
    }));
    await waitFor('c.closed', () => c.closed, { timeoutMs: 10_000 });
    expect(c.responses).toHaveLength(0);
    expect(gh.proxy.stats.closedByCode.GH_STAGE_FAILED).toBe(before + 1);
    expect(gh.logs.some((l) => l.code === 'GH_STAGE_FAILED' && String(l.reason).includes('fail-describe-groups') && String(l.reason).includes('deliberate failure'))).toBe(true);

    const d = await RawClient.open(gh.bootstrap);
    d.socket.write(RawClient.frame(ApiKey.DeleteTopics, 6, 10, (w) => {
      w.uvarint(1); // no topics
      w.int32(1000);
      w.uvarint(0);
    }));
    await waitFor('d.closed', () => d.closed, { timeoutMs: 10_000 });
    expect(gh.logs.some((l) => l.code === 'GH_STAGE_CLOSED' && String(l.reason).includes('refuse-delete-topics: topic deletion is not allowed here'))).toBe(true);

    // The proxy and new connections carry on.
    const e = await RawClient.open(gh.bootstrap);
    e.socket.write(apiVersionsFrame(11));
    await waitFor('e.responses.length === 1', () => e.responses.length === 1, { timeoutMs: 10_000 });
    e.socket.destroy();
  });

  it('forwards Produce with acks=0 without waiting for an answer, and keeps the connection in step', async () => {
    const topic = uniqueName('stage-acks0');
    const kafka = kafkaClient(gh.bootstrap);
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopics(admin, [{ topic, numPartitions: 1 }]);
      await producer.send({ topic, acks: 0, messages: [{ value: 'fire-and-forget' }] });
      await producer.send({ topic, acks: -1, messages: [{ value: 'acknowledged' }] });
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets[0]!.high).toBe('2');
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('caps ApiVersions to the versions it decodes and answers a future ApiVersions version like a broker', async () => {
    const c = await RawClient.open(gh.bootstrap);
    c.socket.write(Buffer.concat([apiVersionsFrame(1), apiVersionsFrame(2, 99)]));
    await waitFor('c.responses.length === 2', () => c.responses.length === 2, { timeoutMs: 10_000 });
    const capped = decodeApiVersions(c.responses[0]!, 3);
    expect(capped.errorCode).toBe(0);
    expect(capped.apiKeys.length).toBeGreaterThan(30);
    for (const k of capped.apiKeys) {
      const codec = apiCodec(k.apiKey);
      expect(codec, `api key ${k.apiKey}`).toBeDefined();
      expect(k.minVersion).toBeGreaterThanOrEqual(codec!.minVersion);
      expect(k.maxVersion).toBeLessThanOrEqual(codec!.maxVersion);
    }
    // Fetch is offered up to v15 so that its responses need no leader-hint rewriting (see api-versions.ts).
    expect(capped.apiKeys.find((k) => k.apiKey === ApiKey.Fetch)?.maxVersion).toBe(15);
    const future = decodeApiVersions(c.responses[1]!, 0);
    expect(future.errorCode).toBe(35); // UNSUPPORTED_VERSION
    expect(future.apiKeys).toEqual([{ apiKey: 18, minVersion: apiCodec(18)!.minVersion, maxVersion: apiCodec(18)!.maxVersion }]);
    c.socket.destroy();
  });
});

describe('graceful stop', () => {
  it('answers a request already in flight, then closes the connection', async () => {
    let forwarded = false;
    const slow: Stage = {
      name: 'slow-metadata',
      interest: { requests: new Set([ApiKey.Metadata]), responses: new Set([ApiKey.Metadata]) },
      onRequest() {
        forwarded = true;
      },
      async onResponse(_res: InterceptedResponse) {
        await sleep(300);
      },
    };
    const gh = await startProxy(kafkaBootstrap, {}, { stages: [slow] });
    const c = await RawClient.open(gh.bootstrap);
    c.socket.write(metadataFrame(42));
    await waitFor('forwarded', () => forwarded, { timeoutMs: 10_000 });
    await gh.proxy.stop(5000);
    await waitFor('c.closed', () => c.closed, { timeoutMs: 10_000 });
    expect(c.correlationIds()).toEqual([42]);
    expect(gh.proxy.stats.closedByCode.GH_SHUTDOWN).toBe(1);
  });
});
