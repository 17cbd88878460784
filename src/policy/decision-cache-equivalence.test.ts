/**
 * The decision cache changes nothing a request's decision says: random sequences of requests
 * (every resource type, sessions, response filters asking authorized operations), re-logins
 * and policy reloads go through a stage without the cache, one with a tiny cache (evicting all
 * the time, some names too long to keep) and one with the default cache; every step must give
 * the same checks (deciding rules included), outcome, answer and forwarded request.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import * as fetchReq from '../../protocol/generated/fetch-request.js';
import * as listOffsetsReq from '../../protocol/generated/list-offsets-request.js';
import * as metadataReq from '../../protocol/generated/metadata-request.js';
import * as metadataRes from '../../protocol/generated/metadata-response.js';
import * as describeGroupsRes from '../../protocol/generated/describe-groups-response.js';
import * as offsetCommitReq from '../../protocol/generated/offset-commit-request.js';
import * as produceReq from '../../protocol/generated/produce-request.js';
import * as createTopicsReq from '../../protocol/generated/create-topics-request.js';
import * as describeConfigsReq from '../../protocol/generated/describe-configs-request.js';
import { setPrincipal, type Principal } from '../identity/principal.js';
import type { InterceptedResponse } from '../stage/stage.js';
import { fakeConnection, fakeRequest, type FakeRequest } from '../../test/helpers/fake-request.js';
import { demoPolicy } from '../sandbox/demo-policy.js';
import { Policy } from './authorizer.js';
import { defaultResponse } from './apis/defaults.js';
import { requestAt } from './apis/test-kit.js';
import { DecisionCache } from './decision-cache.js';
import { parsePolicy } from './load.js';
import { getDecision } from './model.js';
import type { PolicyDocumentInput } from './schema.js';
import { PolicyStage } from './stage.js';
import type { PolicySource } from './store.js';

type Obj = Record<string, any>;

const PROTECTED = { names: ['__gatehouse_audit'], prefixes: ['__gatehouse'] };

/**
 * The sandbox's demo policy, one with principal globs, claims, denies, a protected-topic grant,
 * a qualified principal and roles pinned to an identity source, and one denying everything.
 */
const POLICIES: PolicyDocumentInput[] = [
  demoPolicy('__gatehouse_audit'),
  {
    roles: {
      admin: {
        members: { groups: ['platform-admins'] },
        rules: [
          { resource: 'cluster', operations: ['All'] },
          { resource: 'topic', name: '*', operations: ['All'] },
          { resource: 'group', name: '*', operations: ['All'] },
        ],
      },
      'payments-app': {
        members: { groups: ['payments-team'], principals: ['svc-pay-*'] },
        rules: [
          { resource: 'topic', name: 'payments_*', operations: ['All'] },
          { resource: 'group', name: 'payments-', pattern: 'prefix', operations: ['All'] },
          { resource: 'topic', name: 'payments_secret', operations: ['Read'], effect: 'deny' },
          { resource: 'transactionalId', name: 'payments-*', operations: ['Write'] },
        ],
      },
      analytics: {
        members: { claims: { department: 'analytics', 'realm_access.roles': ['reader', 'viewer'] } },
        rules: [
          { resource: 'topic', name: 'payments_*', operations: ['Read'] },
          { resource: 'cluster', operations: ['IdempotentWrite', 'Create'] },
        ],
      },
      auditor: { members: { groups: ['auditors'] }, rules: [{ resource: 'topic', name: '__gatehouse_audit', operations: ['Read', 'Describe'] }] },
      'corp-p': { members: { principals: ['corp:p'] }, rules: [{ resource: 'topic', name: 'orders', operations: ['Write'] }] },
      'corp-ops': { members: { issuers: ['corp'], groups: ['ops'] }, rules: [{ resource: 'group', name: '*', operations: ['Read'] }] },
      scoped: { members: { issuers: ['corp', 'local'], claims: { scope: 'payments' } }, rules: [{ resource: 'topic', name: 'payments_secret', operations: ['Read'] }] },
    },
  },
  { roles: {} },
];

/** Mostly one name: subjects told apart only by groups, claims or identity source must not share decisions. */
const SUBJECTS: Array<Partial<Principal>> = [
  { name: 'p', groups: ['platform-admins'] },
  { name: 'p', groups: ['payments-team'] },
  { name: 'p', groups: ['payments-team', 'analytics'] },
  { name: 'p', groups: ['analytics'] },
  { name: 'p' },
  { name: 'p', claims: { department: 'analytics', realm_access: { roles: ['viewer'] } } },
  { name: 'p', claims: { department: 'analytics', exp: 2 } },
  { name: 'p', groups: ['auditors'] },
  { name: 'svc-pay-1' },
  { name: 'p', source: 'corp', qualifiedName: 'corp:p' },
  { name: 'p', source: 'partner', qualifiedName: 'partner:p' },
  { name: 'corp:p', source: 'corp', qualifiedName: 'corp:p', groups: ['payments-team'] },
  { name: 'p', source: 'corp', groups: ['ops'] },
  { name: 'p', source: 'partner', groups: ['ops'] },
  { name: 'p', source: 'local', claims: { scope: 'openid payments' } },
  { name: 'p', source: 'partner', claims: { scope: 'openid payments' } },
  { name: 'p', source: 'corp', claims: { scope: 'payments', department: 'analytics analytics' } },
];

/** Names for every resource type; the last is longer than the tiny cache keeps. */
const NAMES = ['payments_in', 'payments_secret', 'orders', 'payments-workers', 'analytics-a', '__gatehouse_audit', '__gatehouse_x', 'x'.repeat(20)];

interface ApiCase {
  apiKey: number;
  version: number;
  fields(names: string[], flag: boolean): Obj;
  /** The broker's answer to the forwarded request (default: the API's default response). */
  broker?(forwarded: Obj): Obj;
}

const partitions = <T>(make: () => T, field: string) => [0, 1].map((p) => ({ ...make(), [field]: p }));

const CASES: ApiCase[] = [
  {
    apiKey: ApiKey.Produce,
    version: 9,
    fields: (names, txn) => ({
      transactionalId: txn ? (names[0] ?? null) : null,
      topicData: names.map((name) => ({ ...produceReq.defaultTopicProduceData(), name, partitionData: partitions(produceReq.defaultPartitionProduceData, 'index') })),
    }),
  },
  {
    apiKey: ApiKey.Fetch,
    version: 12,
    fields: (names, incremental) => ({
      sessionId: incremental ? 1 : 0,
      sessionEpoch: incremental ? 1 : 0,
      topics: names.map((topic) => ({ ...fetchReq.defaultFetchTopic(), topic, partitions: partitions(fetchReq.defaultFetchPartition, 'partition') })),
    }),
  },
  {
    apiKey: ApiKey.ListOffsets,
    version: 7,
    fields: (names) => ({ topics: names.map((name) => ({ ...listOffsetsReq.defaultListOffsetsTopic(), name, partitions: partitions(listOffsetsReq.defaultListOffsetsPartition, 'partitionIndex') })) }),
  },
  {
    apiKey: ApiKey.Metadata,
    version: 12,
    fields: (names, flag) => ({
      topics: names.length === 0 ? null : names.map((name) => ({ ...metadataReq.defaultMetadataRequestTopic(), name })),
      allowAutoTopicCreation: flag,
      includeTopicAuthorizedOperations: true,
    }),
    broker: (fwd) => ({ ...defaultResponse(ApiKey.Metadata), topics: ((fwd.topics as Obj[] | null)?.map((t) => t.name as string) ?? NAMES).map((name) => ({ ...metadataRes.defaultMetadataResponseTopic(), name, topicAuthorizedOperations: -1 })) }),
  },
  {
    apiKey: ApiKey.OffsetCommit,
    version: 8,
    fields: (names) => ({
      groupId: names[0] ?? 'g',
      topics: names.slice(1).map((name) => ({ ...offsetCommitReq.defaultOffsetCommitRequestTopic(), name, partitions: partitions(offsetCommitReq.defaultOffsetCommitRequestPartition, 'partitionIndex') })),
    }),
  },
  {
    apiKey: ApiKey.DescribeGroups,
    version: 5,
    fields: (names, ops) => ({ groups: names, includeAuthorizedOperations: ops }),
    broker: (fwd) => ({ ...defaultResponse(ApiKey.DescribeGroups), groups: (fwd.groups as string[]).map((groupId) => ({ ...describeGroupsRes.defaultDescribedGroup(), groupId, authorizedOperations: -1 })) }),
  },
  { apiKey: ApiKey.InitProducerId, version: 4, fields: (names, txn) => ({ transactionalId: txn ? (names[0] ?? null) : null }) },
  { apiKey: ApiKey.CreateTopics, version: 5, fields: (names) => ({ topics: names.map((name) => ({ ...createTopicsReq.defaultCreatableTopic(), name })) }) },
  {
    apiKey: ApiKey.DescribeConfigs,
    version: 4,
    fields: (names) => ({ resources: names.map((resourceName) => ({ ...describeConfigsReq.defaultDescribeConfigsResource(), resourceType: 2, resourceName })) }),
  },
];

class Source implements PolicySource {
  generation = 1;
  policy = new Policy(parsePolicy(POLICIES[0]), PROTECTED);
  reload(index: number): void {
    this.policy = new Policy(parsePolicy(POLICIES[index]), PROTECTED);
    this.generation++;
  }
}

type Step =
  | { kind: 'request'; conn: number; api: number; names: string[]; flag: boolean }
  | { kind: 'login'; conn: number; subject: number }
  | { kind: 'reload'; policy: number };

const CONNECTIONS = 4;

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      conn: fc.nat({ max: CONNECTIONS - 1 }),
      api: fc.nat({ max: CASES.length - 1 }),
      names: fc.array(fc.constantFrom(...NAMES), { maxLength: 4 }),
      flag: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('login' as const), conn: fc.nat({ max: CONNECTIONS - 1 }), subject: fc.nat({ max: SUBJECTS.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reload' as const), policy: fc.nat({ max: POLICIES.length - 1 }) }) },
);

/** Runs the request's response hooks on the broker's answer; the answer the client gets. */
function answer(req: FakeRequest, broker: Obj): unknown {
  let body: unknown = broker;
  const res = { request: req, body: () => body, setBody: (b: unknown) => void (body = b) } as unknown as InterceptedResponse;
  for (const hook of req.hooks) void hook(res);
  return body;
}

/** What one stage made of one request: everything a client, the broker or audit can see. */
function outcome(stage: PolicyStage, req: FakeRequest, c: ApiCase) {
  const returned = stage.onRequest(req);
  const forwarded = req.current() as Obj;
  const answered = req.hooks.length > 0 ? answer(req, c.broker?.(forwarded) ?? (defaultResponse(c.apiKey) as Obj)) : undefined;
  return { returned, forwarded, answered, decision: getDecision(req) };
}

describe('decision cache equivalence', () => {
  it('records the same checks, rules and outcomes with and without the cache', () => {
    fc.assert(
      // Each connection starts logged in as one of SUBJECTS, or anonymous (index SUBJECTS.length).
      fc.property(fc.array(fc.nat({ max: SUBJECTS.length }), { minLength: CONNECTIONS, maxLength: CONNECTIONS }), fc.array(step, { minLength: 1, maxLength: 60, size: 'large' }), (initial, steps) => {
        const source = new Source();
        const stages = [
          new PolicyStage({ source, decisions: null }),
          new PolicyStage({ source, decisions: new DecisionCache({ perSubject: 4, subjects: 2, entries: 6, maxNameLength: 16 }) }),
          new PolicyStage({ source }),
        ];
        // Each stage its own connections (the stage keeps state on them), logged in alike.
        const conns = stages.map(() => Array.from({ length: CONNECTIONS }, () => fakeConnection()));
        let logins = 0;
        const login = (conn: number, subject: number) => {
          const p = { name: 'x', groups: [], issuer: 'i', clientId: undefined, mechanism: 'OAUTHBEARER', expiresAt: Infinity, authenticatedAt: ++logins, claims: {}, ...SUBJECTS[subject] } as Principal;
          for (const cs of conns) setPrincipal(cs[conn]!, p);
        };
        initial.forEach((subject, conn) => subject < SUBJECTS.length && login(conn, subject));
        for (const s of steps) {
          if (s.kind === 'reload') source.reload(s.policy);
          else if (s.kind === 'login') login(s.conn, s.subject);
          else {
            const c = CASES[s.api]!;
            const results = stages.map((stage, i) => outcome(stage, fakeRequest(conns[i]![s.conn]!, c.apiKey, requestAt(c.apiKey, c.version, c.fields(s.names, s.flag)), c.version), c));
            expect(results[0]!.decision).toBeDefined();
            expect(results[1]).toEqual(results[0]);
            expect(results[2]).toEqual(results[0]);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
