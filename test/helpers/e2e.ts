/**
 * Small helpers for the end-to-end suite (test/e2e): unique names, polling, kcat, kafkajs
 * clients, raw Kafka frames and parsing of tool output. Everything here talks to the proxy the
 * test hands it; nothing knows the broker's address on its own.
 */
import { runProcess, type ProcessOptions, type ProcessResult } from '../../src/kafka/process.js';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import kafkajs, { type Admin, type ITopicConfig } from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

let counter = 0;

/** A topic/group name no other test (or test file running in another fork) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}

/** Resolves with fn's first truthy result; polls every intervalMs; rejects after timeoutMs. */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export type ProcResult = ProcessResult;
export type RunOptions = ProcessOptions;

/** Runs a command to completion (killed with SIGKILL after timeoutMs, which rejects). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<ProcResult> {
  return runProcess(cmd, args, { timeoutMs: 60_000, ...opts });
}

/** Runs kcat (librdkafka) against `bootstrap`: `kcat -b bootstrap ...args`. */
/** The gatehouse command of this checkout. */
export const GATEHOUSE_BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));

/** Runs `gatehouse <args>` to completion. */
export function gatehouse(args: string[], opts: RunOptions = {}): Promise<ProcResult> {
  return run(process.execPath, [GATEHOUSE_BIN, ...args], opts);
}

export function kcat(bootstrap: string, args: string[], opts: RunOptions = {}): Promise<ProcResult> {
  return run('kcat', ['-b', bootstrap, ...args], opts);
}

export interface BrokerLine {
  nodeId: number;
  host: string;
  port: number;
}

/** The "broker N at host:port" lines of `kcat -L` output. */
export function kcatBrokers(metadata: string): BrokerLine[] {
  const out: BrokerLine[] = [];
  for (const m of metadata.matchAll(/^\s*broker (\d+) at (\S+):(\d+)/gm)) {
    out.push({ nodeId: Number(m[1]), host: m[2]!, port: Number(m[3]) });
  }
  return out;
}

/** The port of "host:port". */
export function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
}

/** A kafkajs client for `bootstrap`, quiet, with short retries so failures surface fast. */
export function kafkaClient(bootstrap: string, clientId = 'gatehouse-e2e'): InstanceType<typeof Kafka> {
  return new Kafka({
    clientId,
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 10_000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
}

/**
 * `admin.createTopics` and a wait until every partition has a leader. kafkajs's own
 * `waitForLeaders` retries only LEADER_NOT_AVAILABLE, while a KRaft broker under load can answer
 * Metadata for a topic it has just created with UNKNOWN_TOPIC_OR_PARTITION for a moment; this
 * waits that out. Returns what createTopics did (false: the topics existed).
 */
export async function createTopics(admin: Admin, topics: ITopicConfig[]): Promise<boolean> {
  // kafkajs's own wait (waitForLeaders) would throw on that answer: this function waits instead.
  const created = await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  await waitFor(`leaders for ${names.join(', ')}`, async () => {
    const md = await admin.fetchTopicMetadata({ topics: names });
    return md.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
  });
  return created;
}

/**
 * A full round trip with one kafkajs client: creates `topic`, produces `records`, consumes them
 * back with a fresh consumer group; returns what was consumed as sorted "key=value" strings.
 */
export async function kafkajsRoundTrip(kafka: InstanceType<typeof Kafka>, topic: string, records: Array<{ key: string; value: string }>): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  await createTopics(admin, [{ topic, numPartitions: 1 }]);
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: records });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: uniqueName(`${topic}-group`) });
  const got: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(`${message.key}=${message.value}`) });
    await waitFor(`${records.length} records`, () => got.length >= records.length, { timeoutMs: 60_000 });
  } finally {
    await consumer.disconnect();
  }
  return got.sort();
}

/** Proves a proxy serves requests: a kafkajs admin connects, lists topics, disconnects. */
export async function adminListTopics(bootstrap: string): Promise<string[]> {
  const admin = kafkaClient(bootstrap, 'gatehouse-e2e-probe').admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

// ---- raw Kafka frames ----

/** A request frame (size prefix included): header v1 (or v2 with `flexible`), then `body`. */
export function requestFrame(apiKey: number, apiVersion: number, body: Buffer, { flexible = false, correlationId = 7, clientId = 'raw' } = {}): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const header = Buffer.alloc(8 + 2 + id.length + (flexible ? 1 : 0));
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(id.length, 8);
  id.copy(header, 10);
  // flexible headers end with an empty tagged-field section (a zero byte, left as allocated)
  return sizePrefixed(Buffer.concat([header, body]));
}

export function sizePrefixed(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

export interface RawOutcome {
  /** The socket's local port (the proxy logs it as the client address). */
  localPort: number;
  /** Bytes the proxy sent back before closing. */
  received: Buffer;
  /** Whether the socket saw an error (e.g. ECONNRESET) on the way to 'close'. */
  error?: string;
}

/**
 * Connects a plain socket to `bootstrap`, writes `bytes` (nothing if undefined) and resolves
 * when the proxy closes the connection; rejects if it is still open after timeoutMs.
 */
export function sendRaw(bootstrap: string, bytes: Buffer | undefined, timeoutMs = 15_000): Promise<RawOutcome> {
  const host = bootstrap.slice(0, bootstrap.lastIndexOf(':'));
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: portOf(bootstrap) });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let localPort = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the proxy did not close the connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => {
      localPort = socket.localPort ?? 0;
      if (bytes) socket.write(bytes);
    });
    socket.on('data', (b: Buffer) => chunks.push(b));
    socket.on('error', (e) => (error = e.message));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ localPort, received: Buffer.concat(chunks), ...(error ? { error } : {}) });
    });
  });
}

type LogLine = Record<string, unknown>;

/** The proxy's log lines at warn level or above with `code`. */
export function warnLines(logs: LogLine[], code: string): LogLine[] {
  return logs.filter((l) => (l.level as number) >= 40 && l.code === code);
}

/** The proxy's connection id ("c7") for the client connection from 127.0.0.1:localPort. */
export function connIdOf(logs: LogLine[], localPort: number): string | undefined {
  const line = logs.find((l) => l.msg === 'client connected' && l.client === `127.0.0.1:${localPort}`);
  return line?.conn as string | undefined;
}
