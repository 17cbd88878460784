/**
 * What anyone who can reach the port can do before logging in, against a real broker with
 * identity on. Attackers connect from other loopback addresses (127.0.0.2-4) than the
 * well-behaved kafkajs client (127.0.0.1, real tokens from the OpenID provider), which keeps
 * producing and consuming throughout:
 *  - slow loris: connections announce a request under the pre-login frame limit and send it a
 *    byte at a time; the pooled read buffers they pin stay within one small buffer each (the
 *    proxy's own counter, also the gatehouse_read_buffers_pinned_bytes metric), and the login
 *    deadline closes them all (GH_LOGIN_TIMEOUT); frames announced over the pre-login limit
 *    close at once (GH_FRAME_TOO_LARGE);
 *  - many connections from one address: those beyond its share of connections not logged in
 *    are refused at once (GH_TOO_MANY_CONNECTIONS); once the deadline has closed the others, the
 *    address logs in again;
 *  - failed logins beyond limits.loginAttempts.perAddress: the next attempt from that address,
 *    a valid token even, is refused as any failed login and never checked.
 */
import { connect, type Socket } from 'node:net';
import kafkajs, { type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import type { MetadataResponse } from '../../protocol/generated/metadata-response.js';
import { proxyMetrics } from '../../src/observability/proxy-metrics.js';
import { SMALL_READ_BUFFER_BYTES } from '../../src/proxy/read-pool.js';
import { createTopics, portOf, uniqueName, waitFor, warnLines } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/sasl-client.js';

const { Kafka, logLevel } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');

const KiB = 1024;
const MiB = 1024 * KiB;
const LOGIN_TIMEOUT_MS = 8_000;
const PRE_LOGIN_FRAME = 512 * KiB; // the default
const PER_ADDRESS = 64; // the default
const FAILED_LOGINS = 5;
/** What the well-behaved client's own requests may pin at a time (requests in flight). */
const CLIENT_SLACK = 1 * MiB;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw connection from `localAddress` that sends what it is told and notes when the proxy closes it. */
interface Attacker {
  socket: Socket;
  localPort: number;
  closed: Promise<void>;
  isClosed: () => boolean;
}

function attacker(bootstrap: string, localAddress: string): Promise<Attacker> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: portOf(bootstrap), localAddress });
    socket.setNoDelay(true);
    let done = false;
    const closed = new Promise<void>((r) => socket.once('close', () => ((done = true), r())));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, localPort: socket.localPort ?? 0, closed, isClosed: () => done }));
    socket.once('error', reject);
  });
}

/** The size prefix of a frame of `size` bytes and the start of a request header (Produce v9). */
function announce(size: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(size, 0);
  b.writeInt16BE(ApiKey.Produce, 4);
  b.writeInt16BE(9, 6);
  return b;
}

type LogLine = Record<string, unknown>;

/** The proxy's connection id for the client connection from address:port. */
function connOf(logs: LogLine[], address: string, port: number): string | undefined {
  return logs.find((l) => l.msg === 'client connected' && l.client === `${address}:${port}`)?.conn as string | undefined;
}

/** The close log line of a connection. */
function closeOf(logs: LogLine[], conn: string | undefined): LogLine | undefined {
  return logs.find((l) => l.msg === 'connection closed' && l.conn === conn);
}

describe('pre-login limits', () => {
  let oidc: TestOidc;
  let gh: TestProxy;
  let kafka: InstanceType<typeof Kafka>;
  let producer: Producer;
  let consumer: Consumer;
  const seen: string[] = [];
  let topic: string;

  beforeAll(async () => {
    oidc = await startOidc();
    gh = await startProxy(kafkaBootstrap, {
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      limits: { loginTimeoutMs: LOGIN_TIMEOUT_MS, loginAttempts: { perAddress: FAILED_LOGINS } },
    });
    kafka = new Kafka({
      clientId: 'well-behaved',
      brokers: [gh.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await oidc.token('payments-app') }) },
    });
    topic = uniqueName('pre-login');
    const admin = kafka.admin();
    await admin.connect();
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    await admin.disconnect();
    producer = kafka.producer();
    consumer = kafka.consumer({ groupId: uniqueName('pre-login-g'), maxWaitTimeInMs: 200 });
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value?.toString() ?? '') });
  });
  afterAll(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
    await gh?.stop();
    await oidc?.stop();
  });

  /** The well-behaved client sends a record and reads it back through the proxy. */
  async function roundTrip(value: string): Promise<void> {
    await producer.send({ topic, messages: [{ value }] });
    await waitFor(`record ${value} consumed`, () => seen.includes(value));
  }

  it('slow loris: connections dribbling a large request pin at most a small buffer each, and the login deadline closes them', async () => {
    const base = gh.proxy.pinnedReadBytes;
    await roundTrip('before-loris');

    // Frames announced over the pre-login limit close their connection at once.
    const oversized = await Promise.all([PRE_LOGIN_FRAME + 1, 100 * MiB].map(async (size) => {
      const a = await attacker(gh.bootstrap, '127.0.0.2');
      a.socket.write(announce(size));
      await a.closed;
      return { a, size };
    }));
    for (const { a, size } of oversized) {
      expect(closeOf(gh.logs, connOf(gh.logs, '127.0.0.2', a.localPort))).toMatchObject({
        level: 40,
        code: 'GH_FRAME_TOO_LARGE',
        reason: `client request: frame of ${size} bytes exceeds the limit of ${PRE_LOGIN_FRAME} before login (limits.maxUnauthenticatedFrameBytes)`,
      });
    }

    // 40 connections announce a request just under the limit and send it one byte at a time.
    const N = 40;
    const loris = await Promise.all(Array.from({ length: N }, () => attacker(gh.bootstrap, '127.0.0.2')));
    for (const l of loris) l.socket.write(announce(PRE_LOGIN_FRAME));
    let maxPinned = 0;
    let writes = 0;
    const dribbling = (async () => {
      // Until the proxy closes them (bounded, should a failing proxy never do so).
      for (let round = 0; round < 10_000 && loris.some((l) => !l.isClosed()); round++) {
        for (const l of loris) {
          if (l.isClosed()) continue;
          l.socket.write(Buffer.of(round & 0xff));
          writes++;
        }
        await sleep(10);
        maxPinned = Math.max(maxPinned, gh.proxy.pinnedReadBytes - base);
      }
    })();

    // Meanwhile the well-behaved client produces and consumes.
    for (let i = 0; i < 5; i++) await roundTrip(`during-loris-${i}`);
    const metric = await proxyMetrics(gh.proxy).getSingleMetric('gatehouse_read_buffers_pinned_bytes')!.get();
    expect(metric.values[0]!.value).toBeLessThanOrEqual(base + N * SMALL_READ_BUFFER_BYTES + CLIENT_SLACK);

    // The login deadline closes every one of them, however they keep sending.
    await Promise.all(loris.map((l) => l.closed));
    await dribbling;
    expect(writes).toBeGreaterThan(N * 20); // they did dribble: many reads each
    for (const l of loris) {
      expect(closeOf(gh.logs, connOf(gh.logs, '127.0.0.2', l.localPort))).toMatchObject({
        level: 40,
        code: 'GH_LOGIN_TIMEOUT',
        reason: `no login within ${LOGIN_TIMEOUT_MS} ms of connecting (limits.loginTimeoutMs)`,
      });
    }
    // One small read buffer each at most (a byte per read used to pin 16 KiB per byte).
    expect(maxPinned).toBeLessThanOrEqual(N * SMALL_READ_BUFFER_BYTES + CLIENT_SLACK);
    await roundTrip('after-loris');
    expect(gh.proxy.pinnedReadBytes - base).toBeLessThanOrEqual(CLIENT_SLACK);
    expect(gh.proxy.waitingFrom('127.0.0.2')).toBe(0);
  });

  it("many connections from one address: beyond its share they are refused at once; other clients carry on", async () => {
    const refusedBefore = gh.proxy.stats.closedByCode.GH_TOO_MANY_CONNECTIONS ?? 0;
    const held = await Promise.all(Array.from({ length: PER_ADDRESS }, () => attacker(gh.bootstrap, '127.0.0.3')));
    await waitFor('every connection accepted', () => gh.proxy.waitingFrom('127.0.0.3') === PER_ADDRESS);

    const extra = await Promise.all(Array.from({ length: 36 }, () => attacker(gh.bootstrap, '127.0.0.3')));
    await Promise.all(extra.map((e) => e.closed));
    expect((gh.proxy.stats.closedByCode.GH_TOO_MANY_CONNECTIONS ?? 0) - refusedBefore).toBe(36);
    const refusals = warnLines(gh.logs, 'GH_TOO_MANY_CONNECTIONS').filter((l) => String(l.client).startsWith('127.0.0.3:'));
    expect(refusals).toHaveLength(36);
    for (const r of refusals) {
      expect(r).toMatchObject({ msg: 'connection refused', reason: `127.0.0.3 already holds ${PER_ADDRESS} connections that have not logged in (limits.maxUnauthenticatedConnectionsPerAddress)` });
    }
    expect(gh.proxy.waitingFrom('127.0.0.3')).toBe(PER_ADDRESS);
    expect(held.filter((h) => h.isClosed())).toEqual([]);

    // The well-behaved client, from its own address, is not affected.
    await roundTrip('during-flood');

    // The deadline closes the held ones; then the address may log in again.
    await Promise.all(held.map((h) => h.closed));
    for (const h of held) expect(closeOf(gh.logs, connOf(gh.logs, '127.0.0.3', h.localPort))?.code).toBe('GH_LOGIN_TIMEOUT');
    expect(gh.proxy.waitingFrom('127.0.0.3')).toBe(0);
    const c = await RawClient.open(gh.bootstrap, '127.0.0.3');
    try {
      expect((await c.oauthbearer(await oidc.token('analytics'))).errorCode).toBe(0);
      const md = await c.request<MetadataResponse>(ApiKey.Metadata, 9, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      expect(md.brokers.length).toBeGreaterThan(0);
    } finally {
      c.close();
    }
  });

  it('failed logins beyond limits.loginAttempts.perAddress: the next attempt is refused unchecked, a valid token even', async () => {
    const attempt = async (address: string, token: string) => {
      const c = await RawClient.open(gh.bootstrap, address);
      try {
        const res = await c.oauthbearer(token);
        return { res, conn: connOf(gh.logs, address, c.localPort) };
      } finally {
        c.close();
      }
    };
    for (let i = 0; i < FAILED_LOGINS; i++) {
      const { res, conn } = await attempt('127.0.0.4', `not-a-token-${i}`);
      expect(res).toMatchObject({ errorCode: 58, errorMessage: 'Authentication failed' });
      expect(gh.logs.find((l) => l.conn === conn && l.code === 'GH_AUTH_FAILED')?.reason).toMatch(/^token malformed/);
    }
    const { res, conn } = await attempt('127.0.0.4', await oidc.token('analytics'));
    expect(res).toMatchObject({ errorCode: 58, errorMessage: 'Authentication failed' });
    expect(gh.logs.find((l) => l.conn === conn && l.code === 'GH_AUTH_FAILED')?.reason).toBe(
      `too many failed logins from 127.0.0.4: ${FAILED_LOGINS} in 60000 ms (limits.loginAttempts.perAddress)`,
    );
    // Another address logs in with the same kind of token.
    expect((await attempt('127.0.0.5', await oidc.token('analytics'))).res.errorCode).toBe(0);
    await roundTrip('after-failed-logins');
  });
});
