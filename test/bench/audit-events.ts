/**
 * Micro-benchmark: the audit trail's CPU per request, in process. Each request goes through the
 * two audit stages (AuditIntake.onRequest, AuditRecorder.onResponse / onResponseView) into the
 * trail the proxy builds (AuditTrail: chain, sink, webhooks, alerts), and the sink delivers the
 * events through a transport: `null` (acknowledges at once: the proxy's own work) or `kafka`
 * (the real KafkaTransport, acks=all to a broker: started here unless --bootstrap names one).
 *
 * Requests, as the proxy hands them over with identity and policy on: a Produce v9 of one 1 KiB
 * record (the bench's produce round trip) and a Fetch v12 of one partition answered on the fast
 * path (a records view of one batch header). The principal is set and a policy decision attached.
 *
 * Pacing:
 *   burst       requests back to back (the loop yields every 100): events pile up, batches fill;
 *   sequential  one request, then a wait of --gap ms (default 1, about a Produce round trip
 *               with acks=all): a sequential client, the sink's queue holds one event at a time.
 *
 *   npx tsx test/bench/audit-events.ts                               null + kafka, both pacings
 *   npx tsx test/bench/audit-events.ts --transport null --requests 50000
 *   npx tsx test/bench/audit-events.ts --transport kafka --bootstrap 127.0.0.1:9092
 *   npx tsx test/bench/audit-events.ts --transport kafka --pace sequential --linger 0    the sink's linger off
 *   node --cpu-prof --cpu-prof-interval 97 --import tsx test/bench/audit-events.ts --transport null --pace burst
 *   npx tsx test/bench/cpuprofile-summary.ts CPU.*.cpuprofile                            where the time went
 *
 * With BENCH_DEBUG=1 each loop also prints its user and system CPU, wall time and CPU per thread.
 * Sequential pacing waits on a timer between requests: a profiler sampling every 1 ms can fall in
 * step with it and see the process idle; sample at an odd interval (97 µs) or use perf.
 *
 * Reported: median over rounds of process CPU (user + system) per request, in µs, the loop
 * without the audit subtracted (same pacing); and the events per transport send. Everything the
 * sink does until flush() returns is counted. A benchmark, not a test: nothing fails on speed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ApiKey } from '../../protocol/generated/index.js';
import { encodeBatch, encodeRecords } from '../../protocol/runtime/record-batch.js';
import { batchHeaders } from '../../protocol/runtime/records-view.js';
import { AuditTrail } from '../../src/audit/from-config.js';
import { kafkaFromConfig } from '../../src/audit/kafka-client.js';
import { KafkaTransport, type AuditTransport } from '../../src/audit/sink.js';
import type { SpoolEntry } from '../../src/audit/spool.js';
import { parseConfig } from '../../src/config/load.js';
import { setPrincipal, type Principal } from '../../src/identity/principal.js';
import { defaultKafkaVersion, ensureKafka } from '../../src/kafka/jars.js';
import { startBroker, type Broker } from '../../src/kafka/broker.js';
import { setDecision } from '../../src/policy/model.js';
import type { ConnectionInfo } from '../../src/stage/connection-info.js';
import type { InterceptedRequest, InterceptedResponse, ResponseRecordsView } from '../../src/stage/stage.js';
import { locatedFrom } from '../helpers/fake-request.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    /** Requests per round when sequential (each waits --gap ms). */
    'sequential-requests': { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '5' },
    transport: { type: 'string', default: 'null,kafka' },
    pace: { type: 'string', default: 'burst,sequential' },
    gap: { type: 'string', default: '1' },
    bootstrap: { type: 'string' },
    /** Request kinds: produce, fetch. */
    kinds: { type: 'string', default: 'produce,fetch' },
    /** The sink's lingerMs (default: the sink's default). */
    linger: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const GAP = Number(values.gap);
const TRANSPORTS = values.transport.split(',');
const PACES = values.pace.split(',') as Array<'burst' | 'sequential'>;
const KINDS = values.kinds.split(',');

const TOPIC = 'payments_bench';
const INSTANCE = 'bench-1';

// ---- requests as the proxy hands them over ----

function connection(id: number): ConnectionInfo {
  const c: ConnectionInfo = { id: `c${id}`, remoteAddress: '10.0.0.5', remotePort: 40000 + id, listener: 'bootstrap', nodeId: -1, openedAt: Date.now(), attributes: new Map() };
  const p: Principal = { name: 'payments-app', source: 'oidc', qualifiedName: 'oidc:payments-app', groups: ['payments-team'], issuer: 'http://127.0.0.1:8080/realms/bench', clientId: 'payments-app', mechanism: 'OAUTHBEARER', expiresAt: Date.now() + 3_600_000, authenticatedAt: Date.now(), claims: { sub: 'payments-app' } };
  setPrincipal(c, p);
  return c;
}

const now = BigInt(Date.now());
const BATCH = encodeBatch(
  { baseOffset: 0n, partitionLeaderEpoch: -1, magic: 2, crc: 0, attributes: 0, lastOffsetDelta: 0, baseTimestamp: now, maxTimestamp: now, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: 1 },
  encodeRecords([{ attributes: 0, timestampDelta: 0n, offsetDelta: 0, key: null, value: Buffer.alloc(1024, 120), headers: [] }]),
);
const FETCHED = Buffer.from(encodeBatch(
  { baseOffset: 1000n, partitionLeaderEpoch: 0, magic: 2, crc: 0, attributes: 0, lastOffsetDelta: 9, baseTimestamp: now, maxTimestamp: now, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: 10 },
  encodeRecords(Array.from({ length: 10 }, (_, i) => ({ attributes: 0, timestampDelta: 0n, offsetDelta: i, key: null, value: Buffer.alloc(100, 120), headers: [] }))),
));
const FETCHED_HEADERS = batchHeaders([FETCHED], { offset: 0, length: FETCHED.length }).batches;

function request(c: ConnectionInfo, apiName: string, apiKey: number, apiVersion: number, correlationId: number, body: unknown, size: number): InterceptedRequest {
  return {
    header: { apiKey, apiVersion, correlationId, clientId: 'bench-producer', apiName },
    connection: c,
    frame: Buffer.alloc(0),
    size,
    body: <T>() => body as T,
    skim: <T>() => body as T,
    setBody: () => undefined,
    locate: () => locatedFrom(body),
    modified: false,
    expectsResponse: true,
    interceptResponse: () => undefined,
  };
}

function response(req: InterceptedRequest, body: unknown, size: number): InterceptedResponse {
  return { request: req, connection: req.connection, frame: Buffer.alloc(0), size, synthetic: false, body: <T>() => body as T, skim: <T>() => body as T, setBody: () => undefined, locate: () => locatedFrom(body), modified: false };
}

const allow = (req: InterceptedRequest, operation: 'Write' | 'Read') =>
  setDecision(req, { principal: 'payments-app', apiName: req.header.apiName, outcome: 'allow', checks: [{ action: { resourceType: 'topic', name: TOPIC, operation }, allowed: true, rule: 'payments-app/0' }] });

let correlation = 0;
let offset = 0n;

/** One Produce (request + answer), as the produce round trip sends them. */
function produceOne(trail: AuditTrail, c: ConnectionInfo): void {
  const req = request(c, 'Produce', ApiKey.Produce, 9, correlation++, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, topicId: '', partitionData: [{ index: 0, records: BATCH }] }] }, BATCH.length + 60);
  trail.intake.onRequest(req);
  allow(req, 'Write');
  const res = response(req, { responses: [{ name: TOPIC, topicId: '', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: offset++, logAppendTimeMs: -1n, logStartOffset: 0n, recordErrors: [], errorMessage: null }] }], throttleTimeMs: 0, nodeEndpoints: [] }, 60);
  void trail.stage.onResponse(res);
}

/** One Fetch of one partition answered on the fast path (a records view). */
function fetchOne(trail: AuditTrail, c: ConnectionInfo): void {
  const req = request(c, 'Fetch', ApiKey.Fetch, 12, correlation++, { replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 52428800, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic: TOPIC, topicId: '', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 1000n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1048576 }] }], forgottenTopicsData: [], rackId: '' }, 120);
  trail.intake.onRequest(req);
  allow(req, 'Read');
  const view: ResponseRecordsView = {
    request: req,
    connection: c,
    size: 1500,
    errorCode: 0,
    sessionId: 0,
    partitions: [{ topic: TOPIC, topicId: '', partition: 0, errorCode: 0, highWatermark: 1010n, lastStableOffset: 1010n, logStartOffset: 0n, field: null, batches: FETCHED_HEADERS, truncatedBytes: 0 }],
  };
  trail.stage.onResponseView(view);
}

const KIND_FNS: Record<string, (t: AuditTrail, c: ConnectionInfo) => void> = { produce: produceOne, fetch: fetchOne };

// ---- transports ----

/** Counts sends and events per send around a transport. */
class Counting implements AuditTransport {
  sends = 0;
  events = 0;
  constructor(private readonly inner: AuditTransport) {}
  start(): Promise<void> {
    return this.inner.start?.() ?? Promise.resolve();
  }
  send(entries: readonly SpoolEntry[]): Promise<void> {
    this.sends++;
    this.events += entries.length;
    return this.inner.send(entries);
  }
  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }
}

const nullTransport: AuditTransport = { send: async () => undefined };

// ---- measuring ----

/** utime+stime ticks per thread name (Linux), for BENCH_DEBUG. */
function threadTimes(): Map<string, number> {
  const out = new Map<string, number>();
  if (!process.env.BENCH_DEBUG) return out;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(`${name}#${tid}`, Number(f[11]) + Number(f[12]));
    } catch {
      // gone
    }
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const immediate = () => new Promise<void>((r) => setImmediate(r));

interface Setup {
  bootstrap: string;
  auditTopic: string;
}

async function makeTrail(transportName: string, setup: Setup | undefined, spoolDir: string): Promise<{ trail: AuditTrail; counting: Counting }> {
  const config = parseConfig({
    upstream: { bootstrap: [setup?.bootstrap ?? '127.0.0.1:9'] },
    audit: { topic: setup?.auditTopic ?? '__gatehouse_audit', instanceId: INSTANCE, spool: { dir: spoolDir }, createTopic: { partitions: 3, replicationFactor: 1 } },
  });
  const log = pino({ level: 'warn' }, pino.destination(2));
  const inner: AuditTransport =
    transportName === 'kafka'
      ? new KafkaTransport({ kafka: kafkaFromConfig(config, `gatehouse-audit-${INSTANCE}`, { retries: 2 }), topic: config.audit!.topic, create: { partitions: 3, replicationFactor: 1 }, log })
      : nullTransport;
  const counting = new Counting(inner);
  const trail = new AuditTrail(config.audit!, config, log, { transport: counting, ...(values.linger !== undefined ? { lingerMs: Number(values.linger) } : {}) });
  await trail.start();
  return { trail, counting };
}

/** CPU µs for `n` requests with pacing; `trail` undefined: the same loop without the audit. */
async function loop(trail: AuditTrail | undefined, n: number, pace: 'burst' | 'sequential', kinds: string[]): Promise<number> {
  const c = connection(1);
  // What the loop makes without the audit: the request objects (the proxy makes them anyway).
  const noAudit = (_: unknown, conn: ConnectionInfo) => {
    const req = request(conn, 'Produce', ApiKey.Produce, 9, correlation++, {}, 0);
    allow(req, 'Write');
  };
  const startThreads = threadTimes();
  const startUsage = process.cpuUsage();
  const wall = performance.now();
  const start = cpuMicros();
  for (let i = 0; i < n; i++) {
    const kind = kinds[i % kinds.length]!;
    if (trail) KIND_FNS[kind]!(trail, c);
    else noAudit(undefined, c);
    if (pace === 'sequential') await sleep(GAP);
    else if (i % 100 === 99) await immediate();
  }
  if (trail && !(await trail.sink.flush(60_000))) throw new Error('audit sink did not flush');
  if (process.env.BENCH_DEBUG) {
    const u = process.cpuUsage();
    const threads = threadTimes();
    const diff = [...threads].map(([k, v]) => [k, v - (startThreads.get(k) ?? 0)] as const).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`).join(' ');
    process.stderr.write(`  threads (ticks): ${diff}\n`);
    process.stderr.write(`  ${trail ? 'audit' : 'none '} ${pace}: ${((u.user + u.system - start) / n).toFixed(1)} µs/request (user ${((u.user - startUsage.user) / n).toFixed(1)}, system ${((u.system - startUsage.system) / n).toFixed(1)}), wall ${((performance.now() - wall) / n).toFixed(3)} ms\n`);
  }
  return cpuMicros() - start;
}

async function main(): Promise<void> {
  let broker: Broker | undefined;
  let setup: Setup | undefined;
  if (TRANSPORTS.includes('kafka')) {
    let bootstrap = values.bootstrap;
    if (!bootstrap) {
      const version = defaultKafkaVersion();
      await ensureKafka(version);
      process.stderr.write('starting a broker…\n');
      broker = await startBroker({ version });
      bootstrap = broker.bootstrap;
    }
    setup = { bootstrap, auditTopic: `bench-audit-${Date.now()}` };
  }
  const spool = mkdtempSync(join(tmpdir(), 'gh-bench-audit-'));
  const rows: string[][] = [];
  try {
    for (const transportName of TRANSPORTS) {
      for (const pace of PACES) {
        for (const kinds of [KINDS]) {
          const n = pace === 'burst' ? Number(values.requests) : Number(values['sequential-requests']);
          const { trail, counting } = await makeTrail(transportName, transportName === 'kafka' ? setup : undefined, join(spool, `${transportName}-${pace}`));
          await loop(trail, Math.min(n, 2000), pace, kinds); // warm-up: JIT, producer connections
          await loop(undefined, Math.min(n, 2000), pace, kinds);
          const perRequest: number[] = [];
          const sends0 = counting.sends;
          const events0 = counting.events;
          for (let r = 0; r < ROUNDS; r++) {
            const without = await loop(undefined, n, pace, kinds);
            const withAudit = await loop(trail, n, pace, kinds);
            perRequest.push((withAudit - without) / n);
          }
          const perSend = (counting.events - events0) / Math.max(1, counting.sends - sends0);
          await trail.close();
          rows.push([transportName, pace, kinds.join('+'), median(perRequest).toFixed(1), `${Math.min(...perRequest).toFixed(1)}–${Math.max(...perRequest).toFixed(1)}`, perSend.toFixed(1)]);
          process.stderr.write(`${rows.at(-1)!.join(' | ')}\n`);
        }
      }
    }
  } finally {
    rmSync(spool, { recursive: true, force: true });
    await broker?.stop();
  }
  const header = ['transport', 'pacing', 'requests', 'audit CPU µs/request', 'range', 'events/send'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log(`node ${process.version}, ${values.requests} requests (burst) / ${values['sequential-requests']} (sequential, ${GAP} ms apart) × ${ROUNDS} rounds, median`);
}

await main();
