/**
 * Micro-benchmark: the policy stage's CPU per request on the data plane, in process (no broker,
 * no sockets): a Produce to one topic, and Fetches of 10 partitions (one topic, ten topics, and
 * an incremental fetch of a 10-partition session), each on one long-lived connection and on a
 * new connection per request (every connection starts cold: its subject's decisions are only
 * warm where they are shared). Bodies come decoded, as the proxy core hands over a request that
 * arrived in one read, so the numbers are the policy's own work.
 *
 *   npx tsx test/bench/policy-decisions.ts                     as a checkout runs (through tsx)
 *   npx tsx test/bench/policy-decisions.ts --rounds 7 --only "demo Produce"
 *
 * tsx keeps function names by wrapping every closure it creates, which inflates code that makes
 * closures per request; for what an installed gatehouse (compiled by tsc) does, compile first:
 *
 *   npx tsc test/bench/policy-decisions.ts --outDir build/bench --rootDir . --module nodenext \
 *     --moduleResolution nodenext --target es2022 --skipLibCheck --esModuleInterop --types node
 *   node build/bench/test/bench/policy-decisions.js
 *
 * Reported: the median over rounds of process CPU (user + system) per request, in µs. A
 * benchmark, not a test: nothing here fails on speed.
 */
import { parseArgs } from 'node:util';
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultFetchPartition, defaultFetchRequest, defaultFetchTopic, type FetchRequest } from '../../protocol/generated/fetch-request.js';
import { defaultPartitionProduceData, defaultProduceRequest, defaultTopicProduceData, type ProduceRequest } from '../../protocol/generated/produce-request.js';
import { setPrincipal, type Principal } from '../../src/identity/principal.js';
import { Policy } from '../../src/policy/authorizer.js';
import { parsePolicy } from '../../src/policy/load.js';
import { getDecision } from '../../src/policy/model.js';
import type { PolicyDocumentInput } from '../../src/policy/schema.js';
import { PolicyStage } from '../../src/policy/stage.js';
import type { PolicySource } from '../../src/policy/store.js';
import { TopicIds } from '../../src/policy/topic-ids.js';
import { demoPolicy } from '../../src/sandbox/demo-policy.js';
import type { ConnectionInfo } from '../../src/stage/connection-info.js';
import { fakeConnection, fakeRequest } from '../helpers/fake-request.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    /** Only the rows whose "policy request connections" contain this. */
    only: { type: 'string' },
  },
});
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);

/** A policy of many teams: 200 roles of 5 rules (globs, a prefix, a deny); the subject holds 4. */
function largePolicy(): PolicyDocumentInput {
  const roles: PolicyDocumentInput['roles'] = {};
  for (let i = 0; i < 200; i++) {
    roles[`team-${i}`] = {
      members: { groups: [`team-${i}`], principals: [`svc-team-${i}-*`] },
      rules: [
        { resource: 'topic', name: `team${i}_*`, operations: ['All'] },
        { resource: 'topic', name: `shared.team${i}.`, pattern: 'prefix', operations: ['Read', 'Write'] },
        { resource: 'topic', name: `team${i}_secret*`, operations: ['Read'], effect: 'deny' },
        { resource: 'group', name: `team${i}-*`, operations: ['All'] },
        { resource: 'transactionalId', name: `team${i}-*`, operations: ['All'] },
      ],
    };
  }
  for (const g of ['payments-team', 'analytics']) roles[g] = demoPolicy('__gatehouse_audit').roles[g === 'payments-team' ? 'payments-app' : g]!;
  return { roles };
}

const POLICIES: Record<string, PolicyDocumentInput> = { demo: demoPolicy('__gatehouse_audit'), large: largePolicy() };
const GROUPS = ['payments-team', 'team-17', 'team-42', 'team-199'];

class Source implements PolicySource {
  readonly generation = 1;
  readonly policy: Policy;
  constructor(doc: PolicyDocumentInput) {
    this.policy = new Policy(parsePolicy(doc));
  }
}

const TOPICS = Array.from({ length: 10 }, (_, i) => `payments_${i}`);
const IDS = new Map(TOPICS.map((t) => [t, Buffer.from(t.padEnd(16, '.')).toString('base64url')]));
const idOf = (name: string): string => IDS.get(name)!;

function connection(): ConnectionInfo {
  const c = fakeConnection();
  const principal: Principal = {
    name: 'svc-payments',
    source: 'oidc',
    qualifiedName: 'oidc:svc-payments',
    groups: GROUPS,
    issuer: 'https://idp',
    clientId: 'payments',
    mechanism: 'OAUTHBEARER',
    expiresAt: Infinity,
    authenticatedAt: 1,
    claims: { sub: 'svc-payments', iat: 1, exp: 2, jti: 'x' },
  };
  setPrincipal(c, principal);
  return c;
}

/** Produce v13 (topics by id, as Kafka 4 clients send it): one topic, one partition. */
function produce(): ProduceRequest {
  const b = defaultProduceRequest();
  b.acks = -1;
  b.topicData = [{ ...defaultTopicProduceData(), topicId: idOf(TOPICS[0]!), partitionData: [{ ...defaultPartitionProduceData(), index: 0, records: null }] }];
  return b;
}

/** Fetch v17 (topics by id): `partitions` partitions spread over `topics` topics. */
function fetch(topics: number, partitions: number, sessionEpoch = 0): FetchRequest {
  const b = defaultFetchRequest();
  b.sessionId = sessionEpoch > 0 ? 7 : 0;
  b.sessionEpoch = sessionEpoch;
  const per = partitions / topics;
  b.topics = TOPICS.slice(0, topics).map((name) => ({
    ...defaultFetchTopic(),
    topicId: idOf(name),
    partitions: Array.from({ length: per }, (_, p) => ({ ...defaultFetchPartition(), partition: p })),
  }));
  return b;
}

interface Scenario {
  name: string;
  apiKey: number;
  version: number;
  body: () => unknown;
  /** Requests sent on a connection before the timed ones (a fetch session to start). */
  setup?: { version: number; body: () => unknown };
}

const SCENARIOS: Scenario[] = [
  { name: 'Produce, 1 topic', apiKey: ApiKey.Produce, version: 13, body: produce },
  { name: 'Fetch, 10 partitions of 1 topic', apiKey: ApiKey.Fetch, version: 17, body: () => fetch(1, 10) },
  { name: 'Fetch, 10 partitions of 10 topics', apiKey: ApiKey.Fetch, version: 17, body: () => fetch(10, 10) },
  {
    name: 'Fetch, incremental, 10-topic session',
    apiKey: ApiKey.Fetch,
    version: 17,
    body: () => ({ ...fetch(10, 10, 1), topics: [] }),
    setup: { version: 17, body: () => fetch(10, 10) },
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** µs of CPU per request: `fresh` opens a new connection (same principal) for every request. */
function measure(policy: string, s: Scenario, fresh: boolean): number {
  const topicIds = new TopicIds();
  topicIds.learn(TOPICS.map((t) => [idOf(t), t] as const));
  const stage = new PolicyStage({ source: new Source(POLICIES[policy]!), topicIds });
  const open = (): ConnectionInfo => {
    const c = connection();
    if (s.setup) stage.onRequest(fakeRequest(c, s.apiKey, s.setup.body(), s.setup.version));
    return c;
  };
  const shared = open();
  const request = () => fakeRequest(fresh ? open() : shared, s.apiKey, s.body(), s.version);
  // The policy's share: a loop making and sending requests, less the same loop making them only
  // (rounds alternate). Each request is dropped at once, as the proxy's are, so the collector
  // works as it does in a proxy and its cost lands where the garbage is made.
  const loop = (n: number, policy: boolean): number => {
    const start = cpuMicros();
    for (let i = 0; i < n; i++) {
      const r = request();
      if (policy) stage.onRequest(r);
    }
    return cpuMicros() - start;
  };
  loop(Math.min(REQUESTS, 10_000), true); // warm-up: JIT, caches
  loop(Math.min(REQUESTS, 10_000), false);
  const sample = request();
  stage.onRequest(sample);
  const outcome = getDecision(sample)?.outcome;
  if (outcome !== 'allow') throw new Error(`${s.name}: expected allow, got ${outcome}`);
  const rounds: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const without = loop(REQUESTS, false);
    rounds.push((loop(REQUESTS, true) - without) / REQUESTS);
  }
  return median(rounds);
}

const rows: string[][] = [];
for (const policy of Object.keys(POLICIES)) {
  for (const s of SCENARIOS) {
    for (const fresh of [false, true]) {
      if (fresh && s.setup) continue; // an incremental fetch needs its session's connection
      const row = [policy, s.name, fresh ? 'new connection each' : 'one connection'];
      if (values.only && !row.join(' ').includes(values.only)) continue;
      rows.push([...row, measure(policy, s, fresh).toFixed(2)]);
      process.stdout.write('.');
    }
  }
}
process.stdout.write('\n');
const header = ['policy', 'request', 'connections', 'policy CPU µs/request'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
console.log(`node ${process.version}, ${REQUESTS} requests × ${ROUNDS} rounds, median`);
