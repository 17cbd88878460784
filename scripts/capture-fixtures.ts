/**
 * Captures real protocol frames for the codec tests.
 *
 *   npx tsx scripts/capture-fixtures.ts [--out test/fixtures/frames]
 *
 * Starts a Kafka broker (4.3.1 unless GATEHOUSE_KAFKA_VERSION says otherwise), puts a Gatehouse
 * proxy in front of it with a recording stage, and drives three real clients through the proxy:
 * Kafka's own Java command-line tools, kcat (librdkafka) and kafkajs. Every distinct
 * (client, API key, version, direction) — and, for Produce requests and Fetch responses, every
 * distinct compression/transaction shape — is written as the frame payload (header + body, no
 * size prefix), exactly as the client or broker sent it, to
 *   <out>/<client>/<ApiName>-v<version>-<request|response>-<n>.bin
 * with <out>/index.json describing each file. Frames above MAX_FRAME_BYTES are skipped (never
 * truncated) to keep the fixture set small.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, CompressionTypes, logLevel, type Admin, type Consumer } from 'kafkajs';
import pino from 'pino';
import { apiCodec } from '../protocol/generated/index.js';
import { batches, type RecordBatchView } from '../protocol/runtime/index.js';
import { parseConfig } from '../src/config/load.js';
import { startBroker } from '../src/kafka/broker.js';
import { runTool } from '../src/kafka/tools.js';
import { GatehouseProxy } from '../src/proxy/server.js';
import type { InterceptedRequest, Stage } from '../src/stage/stage.js';
import { decodeFrame, recordsFields, type FixtureEntry, type FixtureIndex, type SeenKind } from '../test/protocol/fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const outArg = process.argv.indexOf('--out');
const OUT = resolve(outArg > 0 ? process.argv[outArg + 1]! : join(here, '..', 'test', 'fixtures', 'frames'));
const KAFKA_VERSION = process.env.GATEHOUSE_KAFKA_VERSION || '4.3.1';
/** Frames kept per (client, API, version, direction, shape). */
const PER_SHAPE = 3;
/** Frames kept per (client, API, version, direction) over all shapes. */
const PER_KIND = 10;
const MAX_FRAME_BYTES = 64 * 1024;
const TOOL_TIMEOUT_MS = 90_000;

type Client = 'java' | 'kcat' | 'kafkajs';

// --- recording ------------------------------------------------------------------------------

interface Captured {
  entry: Omit<FixtureEntry, 'file'>;
  frame: Buffer;
}

let phase: Client | undefined;
const byShape = new Map<string, number>();
const byKind = new Map<string, number>();
const captured: Captured[] = [];
const skippedLarge = new Map<string, number>();
const requestClient = new WeakMap<object, Client>();
/** Every kind of frame that went by, captured or not, so the tests can check nothing was missed. */
const seenKinds = new Map<string, SeenKind>();

/** A short description of what the records in a Produce request / Fetch response look like. */
function recordsShape(records: Buffer[]): string {
  const parts = new Set<string>();
  for (const rec of records) {
    let views: RecordBatchView[];
    try {
      views = [...batches(rec)];
    } catch {
      parts.add('unparsable');
      continue;
    }
    for (const b of views) {
      parts.add(`c${b.compression}${b.transactional ? 't' : ''}${b.control ? 'x' : ''}${b.producerId >= 0n ? 'p' : ''}`);
    }
  }
  return parts.size === 0 ? 'empty' : [...parts].sort().join(',');
}

function shapeOf(apiKey: number, direction: 'request' | 'response', version: number, frame: Buffer, bodyVersion: number | undefined): string {
  try {
    const d = decodeFrame(frame, direction, apiKey, version, bodyVersion);
    if (apiKey === 18) return `body-v${d.bodyVersion}`;
    const fields = recordsFields(d.body);
    return fields.length ? recordsShape(fields) : '';
  } catch (err) {
    // Keep frames the codecs cannot read: they are exactly what the tests are for.
    return `undecodable:${(err as Error).message.slice(0, 40)}`;
  }
}

function record(client: Client, apiKey: number, version: number, direction: 'request' | 'response', payload: Buffer, extra: Partial<FixtureEntry>): void {
  const codec = apiCodec(apiKey);
  const apiName = codec?.name ?? `Api${apiKey}`;
  const kind = `${client}/${apiName}-v${version}-${direction}`;
  const s = seenKinds.get(kind) ?? { client, apiKey, apiName, apiVersion: version, direction, count: 0 };
  s.count++;
  seenKinds.set(kind, s);
  if (payload.length > MAX_FRAME_BYTES) {
    skippedLarge.set(kind, (skippedLarge.get(kind) ?? 0) + 1);
    return;
  }
  const frame = Buffer.from(payload); // the proxy's buffers are reused; keep a copy
  const shape = shapeOf(apiKey, direction, version, frame, extra.bodyVersion);
  const shapeKey = `${kind}#${shape}`;
  if ((byShape.get(shapeKey) ?? 0) >= PER_SHAPE || (byKind.get(kind) ?? 0) >= PER_KIND) return;
  byShape.set(shapeKey, (byShape.get(shapeKey) ?? 0) + 1);
  byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  captured.push({ entry: { client, apiKey, apiName, apiVersion: version, direction, ...extra, bytes: frame.length }, frame });
}

function bodyVersionOf(apiKey: number, version: number, frame: Buffer): number {
  if (apiKey !== 18) return version;
  // ApiVersions responses always use header v0 (4 bytes); an UNSUPPORTED_VERSION answer is a v0 body.
  return frame.length >= 6 && frame.readInt16BE(4) === 35 ? 0 : version;
}

const recorder: Stage = {
  name: 'fixture-recorder',
  interest: { requests: 'all', responses: 'all' },
  onRequest(req) {
    if (!phase) return;
    requestClient.set(req, phase);
    record(phase, req.header.apiKey, req.header.apiVersion, 'request', req.frame, { clientId: req.header.clientId });
  },
  onResponse(res) {
    if (res.synthetic) return;
    const client = requestClient.get(res.request as InterceptedRequest) ?? phase;
    if (!client) return;
    const { apiKey, apiVersion } = res.request.header;
    record(client, apiKey, apiVersion, 'response', res.frame, {
      requestVersion: apiVersion,
      bodyVersion: bodyVersionOf(apiKey, apiVersion, res.frame),
    });
  },
};

// --- clients --------------------------------------------------------------------------------

const log = (msg: string) => process.stderr.write(`[capture] ${msg}\n`);

async function step(name: string, fn: () => Promise<unknown>): Promise<void> {
  const t0 = Date.now();
  try {
    await fn();
    log(`${name}: ok (${Date.now() - t0} ms)`);
  } catch (err) {
    // Some steps are expected to fail (ACLs without an authorizer); the frames are captured anyway.
    log(`${name}: failed (${Date.now() - t0} ms): ${(err as Error).message.split('\n')[0]}`);
  }
}

function lines(prefix: string, n: number): string {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}\t{"n":${i},"text":"${'lorem ipsum dolor sit amet '.repeat(3)}"}`).join('\n') + '\n';
}

async function java(classpath: string, main: string, args: string[], input?: string): Promise<void> {
  const r = await runTool(classpath, main, args, { input, timeoutMs: TOOL_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`${main} exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
}

function kcat(args: string[], input?: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), TOOL_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise();
      else reject(new Error(`kcat ${args.join(' ')} exited ${code ?? signal}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`));
    });
    child.stdin.on('error', () => {
      // kcat may exit before reading its input; the exit code tells the story
    });
    child.stdin.end(input ?? '');
  });
}

async function driveJava(bs: string, classpath: string): Promise<void> {
  const T = 'fx-java';
  const admin = (cls: string, args: string[]) => java(classpath, cls, ['--bootstrap-server', bs, ...args]);
  await step('java topics --create', () => admin('org.apache.kafka.tools.TopicCommand', ['--create', '--topic', T, '--partitions', '2', '--replication-factor', '1', '--config', 'retention.ms=3600000']));
  await step('java topics --list', () => admin('org.apache.kafka.tools.TopicCommand', ['--list']));
  await step('java topics --describe', () => admin('org.apache.kafka.tools.TopicCommand', ['--describe', '--topic', T]));
  await step('java topics --alter --partitions', () => admin('org.apache.kafka.tools.TopicCommand', ['--alter', '--topic', T, '--partitions', '3']));
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    await step(`java console-producer ${codec}`, () =>
      java(
        classpath,
        'org.apache.kafka.tools.ConsoleProducer',
        ['--bootstrap-server', bs, '--topic', T, '--compression-codec', codec, '--property', 'parse.key=true', '--property', 'key.separator=\t', '--producer-property', 'linger.ms=50'],
        lines(`java-${codec}`, 12),
      ),
    );
  }
  await step('java console-consumer (classic group)', () =>
    java(classpath, 'org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--bootstrap-server', bs, '--topic', T, '--group', 'fx-java-group', '--from-beginning', '--max-messages', '60', '--timeout-ms', '30000',
      '--consumer-property', 'group.protocol=classic', '--consumer-property', 'max.partition.fetch.bytes=8192',
    ]),
  );
  await step('java console-consumer (consumer group protocol)', () =>
    java(classpath, 'org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--bootstrap-server', bs, '--topic', T, '--group', 'fx-java-group2', '--from-beginning', '--max-messages', '20', '--timeout-ms', '30000',
      '--consumer-property', 'group.protocol=consumer', '--consumer-property', 'max.partition.fetch.bytes=8192',
    ]),
  );
  await step('java console-consumer (classic group, idle until heartbeats)', () =>
    java(classpath, 'org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--bootstrap-server', bs, '--topic', T, '--group', 'fx-java-group3', '--from-beginning', '--timeout-ms', '4000',
      '--consumer-property', 'group.protocol=classic', '--consumer-property', 'heartbeat.interval.ms=300',
      '--consumer-property', 'isolation.level=read_committed', '--consumer-property', 'max.partition.fetch.bytes=8192',
    ]),
  );
  await step('java transactional-message-copier (TxnOffsetCommit)', () =>
    java(classpath, 'org.apache.kafka.tools.TransactionalMessageCopier', [
      '--broker-list', bs, '--input-topic', T, '--input-partition', '0', '--output-topic', `${T}-copy`,
      '--consumer-group', 'fx-java-copier', '--transactional-id', 'fx-java-copier-tx', '--transaction-size', '10', '--use-group-metadata',
    ]),
  );
  await step('java producer-perf transactional', () =>
    java(classpath, 'org.apache.kafka.tools.ProducerPerformance', [
      '--topic', T, '--num-records', '30', '--record-size', '64', '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${bs}`, 'compression.type=lz4',
      '--transactional-id', 'fx-java-tx', '--transaction-duration-ms', '200',
    ]),
  );
  const groups = 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand';
  await step('java consumer-groups --list', () => admin(groups, ['--list']));
  await step('java consumer-groups --describe', () => admin(groups, ['--describe', '--group', 'fx-java-group']));
  await step('java consumer-groups --describe (consumer protocol)', () => admin(groups, ['--describe', '--group', 'fx-java-group2', '--members']));
  await step('java consumer-groups --reset-offsets', () => admin(groups, ['--reset-offsets', '--group', 'fx-java-group', '--topic', T, '--to-earliest', '--execute']));
  await step('java consumer-groups --delete-offsets', () => admin(groups, ['--delete-offsets', '--group', 'fx-java-group', '--topic', T]));
  await step('java consumer-groups --delete', () => admin(groups, ['--delete', '--group', 'fx-java-group']));
  await step('java configs --describe topic', () => admin('kafka.admin.ConfigCommand', ['--describe', '--entity-type', 'topics', '--entity-name', T]));
  await step('java configs --describe broker', () => admin('kafka.admin.ConfigCommand', ['--describe', '--entity-type', 'brokers', '--entity-name', '1', '--all']));
  await step('java configs --alter topic', () => admin('kafka.admin.ConfigCommand', ['--alter', '--entity-type', 'topics', '--entity-name', T, '--add-config', 'retention.ms=7200000']));
  await step('java configs --describe users (SCRAM credentials, quotas)', () => admin('kafka.admin.ConfigCommand', ['--describe', '--entity-type', 'users']));
  await step('java configs --alter clients (quotas)', () =>
    admin('kafka.admin.ConfigCommand', ['--alter', '--entity-type', 'clients', '--entity-name', 'fx-client', '--add-config', 'producer_byte_rate=1048576']),
  );
  await step('java configs --describe clients (quotas)', () => admin('kafka.admin.ConfigCommand', ['--describe', '--entity-type', 'clients']));
  await step('java leader-election', () => admin('org.apache.kafka.tools.LeaderElectionCommand', ['--election-type', 'preferred', '--topic', T, '--partition', '0']));
  await step('java groups --list', () => admin('org.apache.kafka.tools.GroupsCommand', ['--list']));
  await step('java configs --alter group (share.auto.offset.reset)', () =>
    admin('kafka.admin.ConfigCommand', ['--alter', '--entity-type', 'groups', '--entity-name', 'fx-java-share', '--add-config', 'share.auto.offset.reset=earliest']),
  );
  await step('java console-share-consumer', () =>
    java(classpath, 'org.apache.kafka.tools.consumer.ConsoleShareConsumer', [
      '--bootstrap-server', bs, '--topic', T, '--group', 'fx-java-share', '--max-messages', '10', '--timeout-ms', '10000',
    ]),
  );
  await step('java share-groups --describe', () => admin('org.apache.kafka.tools.consumer.group.ShareGroupCommand', ['--describe', '--group', 'fx-java-share', '--members']));
  await step('java share-groups --describe --offsets', () => admin('org.apache.kafka.tools.consumer.group.ShareGroupCommand', ['--describe', '--group', 'fx-java-share', '--offsets']));
  await step('java acls --list', () => admin('org.apache.kafka.tools.AclCommand', ['--list']));
  await step('java get-offsets', () => admin('org.apache.kafka.tools.GetOffsetShell', ['--topic', T]));
  await step('java log-dirs --describe', () => admin('org.apache.kafka.tools.LogDirsCommand', ['--describe', '--topic-list', T]));
  await step('java features describe', () => admin('org.apache.kafka.tools.FeatureCommand', ['describe']));
  await step('java metadata-quorum describe', () => admin('org.apache.kafka.tools.MetadataQuorumCommand', ['describe', '--status']));
  await step('java transactions list', () => admin('org.apache.kafka.tools.TransactionsCommand', ['list']));
  await step('java transactions describe', () => admin('org.apache.kafka.tools.TransactionsCommand', ['describe', '--transactional-id', 'fx-java-tx']));
  await step('java transactions describe-producers', () => admin('org.apache.kafka.tools.TransactionsCommand', ['describe-producers', '--topic', T, '--partition', '0']));
  const offsetsJson = join(tmpdir(), `gatehouse-delete-records-${process.pid}.json`);
  writeFileSync(offsetsJson, JSON.stringify({ partitions: [{ topic: T, partition: 0, offset: 1 }], version: 1 }));
  await step('java delete-records', () => admin('org.apache.kafka.tools.DeleteRecordsCommand', ['--offset-json-file', offsetsJson]));
  rmSync(offsetsJson, { force: true });
  await step('java topics --delete', () => admin('org.apache.kafka.tools.TopicCommand', ['--delete', '--topic', T]));
  await step('java topics --delete copy', () => admin('org.apache.kafka.tools.TopicCommand', ['--delete', '--topic', `${T}-copy`]));
}

async function driveKcat(bs: string): Promise<void> {
  const T = 'fx-kcat';
  await step('kcat -L', () => kcat(['-b', bs, '-L']));
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    await step(`kcat -P ${codec}`, () =>
      kcat(['-b', bs, '-P', '-t', T, '-K', '\t', '-z', codec, '-X', 'linger.ms=20'], lines(`kcat-${codec}`, 10)),
    );
  }
  await step('kcat -P idempotent', () => kcat(['-b', bs, '-P', '-t', T, '-X', 'enable.idempotence=true'], lines('kcat-idem', 5)));
  await step('kcat -L topic', () => kcat(['-b', bs, '-L', '-t', T]));
  await step('kcat -C', () => kcat(['-b', bs, '-C', '-t', T, '-o', 'beginning', '-e', '-q', '-X', 'fetch.message.max.bytes=8192']));
  await step('kcat -G', () => kcat(['-b', bs, '-G', 'fx-kcat-group', '-c', '30', '-q', '-X', 'auto.offset.reset=earliest', '-X', 'fetch.message.max.bytes=8192', T]));
  await step('kcat -Q', () => kcat(['-b', bs, '-Q', '-t', `${T}:0:-1`]));
}

async function driveKafkajs(bs: string): Promise<void> {
  const T = 'fx-kafkajs';
  const kafka = new Kafka({ clientId: 'gatehouse-fixtures', brokers: [bs], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    await step('kafkajs createTopics', () => admin.createTopics({ topics: [{ topic: T, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] }], waitForLeaders: true }));
    await step('kafkajs listTopics', () => admin.listTopics());
    await step('kafkajs fetchTopicMetadata', () => admin.fetchTopicMetadata({ topics: [T] }));
    await step('kafkajs describeCluster', () => admin.describeCluster());
    await step('kafkajs describeConfigs', () =>
      admin.describeConfigs({ includeSynonyms: true, resources: [{ type: 2 /* TOPIC */, name: T }, { type: 4 /* BROKER */, name: '1' }] }),
    );
    await step('kafkajs alterConfigs', () => admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: T, configEntries: [{ name: 'retention.ms', value: '7200000' }] }] }));
    await step('kafkajs createPartitions', () => admin.createPartitions({ topicPartitions: [{ topic: T, count: 3 }] }));

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (const [name, compression] of [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]] as const) {
      await step(`kafkajs producer ${name}`, () =>
        producer.send({ topic: T, compression, messages: Array.from({ length: 8 }, (_, i) => ({ key: `k${i}`, value: `kafkajs ${name} ${i}`, headers: { h: `v${i}` } })) }),
      );
    }
    await step('kafkajs producer acks=1', () => producer.send({ topic: T, acks: 1, messages: [{ value: 'acks one' }] }));
    await producer.disconnect();

    const idem = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await idem.connect();
    await step('kafkajs idempotent producer', () => idem.send({ topic: T, messages: Array.from({ length: 5 }, (_, i) => ({ key: `i${i}`, value: `idem ${i}` })) }));
    await idem.disconnect();

    const consumer: Consumer = kafka.consumer({ groupId: 'fx-kafkajs-group', maxBytesPerPartition: 8192, heartbeatInterval: 500 });
    await step('kafkajs consumer group', async () => {
      await consumer.connect();
      await consumer.subscribe({ topic: T, fromBeginning: true });
      let seen = 0;
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`consumed only ${seen} messages`)), 30_000);
        void consumer.run({
          autoCommitInterval: 200,
          eachMessage: async () => {
            if (++seen >= 15) {
              clearTimeout(timer);
              done();
            }
          },
        });
      });
      await new Promise((r) => setTimeout(r, 1500)); // let a heartbeat and a commit go by
      await consumer.stop();
      await consumer.disconnect();
    });

    const tx = kafka.producer({ transactionalId: 'fx-kafkajs-tx', idempotent: true, maxInFlightRequests: 1 });
    await tx.connect();
    await step('kafkajs transaction commit with offsets', async () => {
      const t = await tx.transaction();
      await t.send({ topic: T, messages: [{ key: 'tx', value: 'committed 1' }, { key: 'tx', value: 'committed 2' }] });
      await t.sendOffsets({ consumerGroupId: 'fx-kafkajs-group', topics: [{ topic: T, partitions: [{ partition: 0, offset: '1' }] }] });
      await t.commit();
    });
    await step('kafkajs transaction abort', async () => {
      const t = await tx.transaction();
      await t.send({ topic: T, messages: [{ value: 'aborted' }] });
      await t.abort();
    });
    await tx.disconnect();

    const reader = kafka.consumer({ groupId: 'fx-kafkajs-reader', maxBytesPerPartition: 8192, readUncommitted: false });
    await step('kafkajs read_committed consumer sees control batches', async () => {
      await reader.connect();
      await reader.subscribe({ topic: T, fromBeginning: true });
      let seen = 0;
      await new Promise<void>((done) => {
        const timer = setTimeout(done, 8000);
        void reader.run({
          eachMessage: async () => {
            if (++seen >= 20) {
              clearTimeout(timer);
              done();
            }
          },
        });
      });
      await reader.disconnect();
    });

    await step('kafkajs listGroups', () => admin.listGroups());
    await step('kafkajs describeGroups', () => admin.describeGroups(['fx-kafkajs-group']));
    await step('kafkajs fetchOffsets', () => admin.fetchOffsets({ groupId: 'fx-kafkajs-group', topics: [T] }));
    await step('kafkajs fetchTopicOffsets', () => admin.fetchTopicOffsets(T));
    await step('kafkajs fetchTopicOffsetsByTimestamp', () => admin.fetchTopicOffsetsByTimestamp(T, Date.now() - 60_000));
    await step('kafkajs resetOffsets', () => admin.resetOffsets({ groupId: 'fx-kafkajs-group', topic: T, earliest: true }));
    await step('kafkajs setOffsets', () => admin.setOffsets({ groupId: 'fx-kafkajs-group', topic: T, partitions: [{ partition: 0, offset: '1' }] }));
    await step('kafkajs deleteTopicRecords', () => admin.deleteTopicRecords({ topic: T, partitions: [{ partition: 1, offset: '1' }] }));
    await step('kafkajs describeAcls', () =>
      admin.describeAcls({ resourceType: 1 /* ANY */, resourcePatternType: 1 /* ANY */, operation: 1 /* ANY */, permissionType: 1 /* ANY */ }),
    );
    await step('kafkajs createAcls', () =>
      admin.createAcls({ acl: [{ resourceType: 2 /* TOPIC */, resourceName: T, resourcePatternType: 3 /* LITERAL */, principal: 'User:fx', host: '*', operation: 3 /* READ */, permissionType: 3 /* ALLOW */ }] }),
    );
    await step('kafkajs deleteAcls', () =>
      admin.deleteAcls({ filters: [{ resourceType: 2, resourceName: T, resourcePatternType: 3, principal: 'User:fx', host: '*', operation: 3, permissionType: 3 }] }),
    );
    await step('kafkajs deleteGroups', () => admin.deleteGroups(['fx-kafkajs-reader']));
    await step('kafkajs deleteTopics', () => admin.deleteTopics({ topics: [T] }));
  } finally {
    await admin.disconnect();
  }
}

// --- main -----------------------------------------------------------------------------------

function writeFixtures(): FixtureIndex {
  rmSync(OUT, { recursive: true, force: true });
  const counters = new Map<string, number>();
  const frames: FixtureEntry[] = [];
  const ordered = [...captured].sort((a, b) =>
    a.entry.client.localeCompare(b.entry.client) || a.entry.apiKey - b.entry.apiKey || a.entry.apiVersion - b.entry.apiVersion || a.entry.direction.localeCompare(b.entry.direction),
  );
  for (const c of ordered) {
    const base = `${c.entry.client}/${c.entry.apiName}-v${c.entry.apiVersion}-${c.entry.direction}`;
    const n = counters.get(base) ?? 0;
    counters.set(base, n + 1);
    const file = `${base}-${n}.bin`;
    mkdirSync(join(OUT, c.entry.client), { recursive: true });
    writeFileSync(join(OUT, file), c.frame);
    frames.push({ file, ...c.entry });
  }
  const seen = [...seenKinds.values()].sort(
    (a, b) => a.client.localeCompare(b.client) || a.apiKey - b.apiKey || a.apiVersion - b.apiVersion || a.direction.localeCompare(b.direction),
  );
  const index: FixtureIndex = { generatedBy: 'scripts/capture-fixtures.ts', kafkaVersion: KAFKA_VERSION, frames, seen };
  // One entry per line: readable, and a recapture diffs line by line.
  const list = (xs: unknown[]) => `[\n${xs.map((x) => `  ${JSON.stringify(x)}`).join(',\n')}\n ]`;
  const text = `{\n "generatedBy": ${JSON.stringify(index.generatedBy)},\n "kafkaVersion": ${JSON.stringify(index.kafkaVersion)},\n` +
    ` "frames": ${list(index.frames)},\n "seen": ${list(index.seen)}\n}\n`;
  JSON.parse(text);
  writeFileSync(join(OUT, 'index.json'), text);
  return index;
}

function summary(index: FixtureIndex): void {
  const byClient = new Map<string, Map<string, number>>();
  for (const f of index.frames) {
    const m = byClient.get(f.client) ?? new Map<string, number>();
    m.set(f.apiName, (m.get(f.apiName) ?? 0) + 1);
    byClient.set(f.client, m);
  }
  for (const [client, m] of byClient) {
    log(`${client}: ${[...m.values()].reduce((a, b) => a + b, 0)} frames — ${[...m].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  const total = index.frames.reduce((n, f) => n + f.bytes, 0);
  log(`${index.frames.length} frames, ${total} bytes, written to ${OUT}`);
  if (skippedLarge.size) log(`skipped (over ${MAX_FRAME_BYTES} bytes): ${[...skippedLarge].map(([k, v]) => `${k} ×${v}`).join(', ')}`);
}

async function main(): Promise<void> {
  log(`starting Kafka ${KAFKA_VERSION}`);
  const broker = await startBroker({ version: KAFKA_VERSION });
  let proxy: GatehouseProxy | undefined;
  try {
    const config = parseConfig({
      listen: { host: '127.0.0.1', advertisedHost: '127.0.0.1', bootstrapPort: 0, brokerPortBase: 0 },
      upstream: { bootstrap: [broker.bootstrap] },
      log: { level: 'warn' },
    });
    proxy = new GatehouseProxy(config, { stages: [recorder], logger: pino({ level: 'warn' }, pino.destination(2)) });
    await proxy.start();
    const bs = proxy.bootstrap;
    log(`broker ${broker.bootstrap}, proxy ${bs}`);

    phase = 'java';
    await driveJava(bs, broker.classpath);
    phase = 'kcat';
    await driveKcat(bs);
    phase = 'kafkajs';
    await driveKafkajs(bs);
    phase = undefined;
  } finally {
    if (proxy) await proxy.stop();
    await broker.stop();
  }
  const index = writeFixtures();
  summary(index);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
