import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultFetchRequest, defaultFetchTopic, defaultFetchPartition } from '../../protocol/generated/fetch-request.js';
import type { FetchResponse } from '../../protocol/generated/fetch-response.js';
import { defaultProduceRequest, defaultTopicProduceData } from '../../protocol/generated/produce-request.js';
import { defaultCreatableTopic, defaultCreateTopicsRequest } from '../../protocol/generated/create-topics-request.js';
import { setPrincipal, type Principal } from '../identity/principal.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import { fakeConnection, fakeRequest } from '../../test/helpers/fake-request.js';
import { Policy } from './authorizer.js';
import { parsePolicy } from './load.js';
import { getDecision } from './model.js';
import type { PolicySource } from './store.js';
import { PolicyStage } from './stage.js';
import { TopicIds } from './topic-ids.js';

const doc = parsePolicy({
  roles: {
    app: { members: { groups: ['team'] }, rules: [{ resource: 'topic', name: 'app_*', operations: ['Read', 'Write'] }] },
    anon: { members: { principals: ['ANONYMOUS'] }, rules: [{ resource: 'topic', name: 'public', operations: ['Read'] }] },
  },
});

class Source implements PolicySource {
  generation = 1;
  policy = new Policy(doc);
  replace(next: Policy): void {
    this.policy = next;
    this.generation++;
  }
}

function conn(principal?: Partial<Principal>): ConnectionInfo {
  const c = fakeConnection();
  if (principal) setPrincipal(c, { name: 'alice', groups: ['team'], issuer: 'i', clientId: undefined, mechanism: 'OAUTHBEARER', expiresAt: Infinity, authenticatedAt: 1, claims: {}, ...principal } as Principal);
  return c;
}

const request = (c: ConnectionInfo, apiKey: number, apiVersion: number, body: unknown, expectsResponse = true) => fakeRequest(c, apiKey, body, apiVersion, expectsResponse);

function produce(topics: string[], acks = -1) {
  const b = defaultProduceRequest();
  b.acks = acks;
  b.topicData = topics.map((name) => ({ ...defaultTopicProduceData(), name, partitionData: [{ index: 0, records: null }] }));
  return b;
}

describe('policy stage', () => {
  it('forwards what is allowed untouched and records the decision', () => {
    const stage = new PolicyStage({ source: new Source() });
    const req = request(conn({}), ApiKey.Produce, 9, produce(['app_in']));
    expect(stage.onRequest(req)).toBeUndefined();
    expect(req.modified).toBe(false);
    expect(req.hooks).toHaveLength(0);
    expect(getDecision(req)).toMatchObject({ principal: 'alice', apiName: 'Produce', outcome: 'allow', checks: [{ allowed: true, rule: 'app/0' }] });
  });

  it('answers a fully denied request itself and splits a mixed one', () => {
    const stage = new PolicyStage({ source: new Source() });
    const denied = request(conn({}), ApiKey.Produce, 9, produce(['orders']));
    const d = stage.onRequest(denied) as { respond: { responses: Array<{ name: string; partitionResponses: Array<{ errorCode: number }> }> } };
    expect(d.respond.responses).toEqual([expect.objectContaining({ name: 'orders', partitionResponses: [expect.objectContaining({ errorCode: 29 })] })]);
    expect(getDecision(denied)).toMatchObject({ outcome: 'deny', errorCode: 29, checks: [{ allowed: false, rule: 'default-deny' }] });

    const mixed = request(conn({}), ApiKey.Produce, 9, produce(['orders', 'app_in']));
    expect(stage.onRequest(mixed)).toBeUndefined();
    expect((mixed.current() as ReturnType<typeof produce>).topicData.map((t) => t.name)).toEqual(['app_in']);
    expect(mixed.hooks).toHaveLength(1);
    expect(getDecision(mixed)).toMatchObject({ outcome: 'partial' });
  });

  it('closes the connection for a denied Produce with acks=0, which has no response to carry the error (as a broker does)', () => {
    const stage = new PolicyStage({ source: new Source() });
    const req = request(conn({}), ApiKey.Produce, 9, produce(['orders'], 0), false);
    expect(stage.onRequest(req)).toEqual({ close: expect.stringContaining('Produce (acks=0) denied: Write topic:orders (default-deny)') });
  });

  it('treats a connection without a principal as ANONYMOUS', () => {
    const stage = new PolicyStage({ source: new Source() });
    const c = conn();
    const ok = request(c, ApiKey.Produce, 9, produce(['public']));
    const d = stage.onRequest(ok);
    // ANONYMOUS may Read "public", not Write it.
    expect(d).toHaveProperty('respond');
    expect(getDecision(ok)).toMatchObject({ principal: 'ANONYMOUS', outcome: 'deny' });
  });

  it('applies a new policy generation to the next request on an open connection', () => {
    const source = new Source();
    const stage = new PolicyStage({ source });
    const c = conn({});
    expect(stage.onRequest(request(c, ApiKey.Produce, 9, produce(['app_in'])))).toBeUndefined();
    source.replace(new Policy(parsePolicy({ roles: {} })));
    expect(stage.onRequest(request(c, ApiKey.Produce, 9, produce(['app_in'])))).toHaveProperty('respond');
  });

  it('resolves topic ids it has not seen by asking the cluster, and denies ids that stay unknown', async () => {
    const known = 'AAAAAAAAAAAAAAAAAAAAAQ';
    const ghost = 'AAAAAAAAAAAAAAAAAAAAAg';
    let lookups = 0;
    const topicIds = new TopicIds(async () => {
      lookups++;
      return [[known, 'app_in']];
    }, 0);
    const stage = new PolicyStage({ source: new Source(), topicIds });
    const fetch = (id: string) => {
      const f = defaultFetchRequest();
      f.sessionEpoch = -1;
      f.topics = [{ ...defaultFetchTopic(), topicId: id, partitions: [{ ...defaultFetchPartition(), partition: 0 }] }];
      return f;
    };
    const c = conn({});
    const ok = request(c, ApiKey.Fetch, 13, fetch(known));
    expect(await stage.onRequest(ok)).toBeUndefined();
    expect(lookups).toBe(1);
    const unknown = request(c, ApiKey.Fetch, 13, fetch(ghost));
    const d = (await stage.onRequest(unknown)) as { respond: FetchResponse };
    expect(lookups).toBe(2);
    expect(d.respond.responses[0]!.topicId).toBe(ghost);
    expect(d.respond.responses[0]!.partitions[0]!.errorCode).toBe(100); // UNKNOWN_TOPIC_ID
    // Ids learned from Metadata answers need no lookup.
    stage.topicIds.learn([['AAAAAAAAAAAAAAAAAAAAAw', 'app_other']]);
    expect(await stage.onRequest(request(c, ApiKey.Fetch, 13, fetch('AAAAAAAAAAAAAAAAAAAAAw')))).toBeUndefined();
    expect(lookups).toBe(2);
  });

  it('gives the rules the policy\'s protected topics and the configured credential APIs, and records their refusals', () => {
    const admin = parsePolicy({ roles: { admin: { members: { groups: ['team'] }, rules: [{ resource: 'cluster', operations: ['All'] }, { resource: 'topic', name: '*', operations: ['All'] }] } } });
    const source: PolicySource = { generation: 1, policy: new Policy(admin, { names: ['audit-trail'], prefixes: ['__gatehouse'] }) };
    const create = (name: string) => ({ ...defaultCreateTopicsRequest(), topics: [{ ...defaultCreatableTopic(), name }] });
    const off = new PolicyStage({ source });
    const c = conn({});
    const audit = request(c, ApiKey.CreateTopics, 7, create('audit-trail'));
    const d = off.onRequest(audit) as { respond: { topics: Array<{ name: string; errorCode: number }> } };
    expect(d.respond.topics.map((t) => [t.name, t.errorCode])).toEqual([['audit-trail', 29]]);
    expect(getDecision(audit)).toMatchObject({ outcome: 'deny', errorCode: 29, checks: [{ allowed: true }, { action: { name: 'audit-trail', operation: 'Create' }, allowed: false, rule: 'protected-topic' }] });
    expect(off.onRequest(request(c, ApiKey.CreateTopics, 7, create('orders')))).toBeUndefined();

    const scram = (name: string) => ({ deletions: [{ name, mechanism: 2 }], upsertions: [] });
    const refused = request(c, ApiKey.AlterUserScramCredentials, 0, scram('someone'));
    expect(off.onRequest(refused)).toHaveProperty('respond');
    expect(getDecision(refused)).toMatchObject({ outcome: 'deny', errorCode: 31, checks: [{ allowed: false, rule: 'scram-credentials-disabled' }] });
    const on = new PolicyStage({ source, credentialApis: { delegationTokens: false, scramCredentials: true, protectedUsers: ['gatehouse'] } });
    expect(on.onRequest(request(c, ApiKey.AlterUserScramCredentials, 0, scram('someone')))).toBeUndefined();
    const own = request(c, ApiKey.AlterUserScramCredentials, 0, scram('gatehouse'));
    expect(on.onRequest(own)).toHaveProperty('respond');
    expect(getDecision(own)).toMatchObject({ outcome: 'deny', errorCode: 31, checks: [{ allowed: true }, { allowed: false, rule: 'proxy-upstream-account' }] });
  });

  it('leaves ApiVersions and SASL to the identity stage', () => {
    const stage = new PolicyStage({ source: new Source() });
    const req = request(conn(), ApiKey.ApiVersions, 3, {});
    expect(stage.onRequest(req)).toBeUndefined();
    expect(getDecision(req)).toBeUndefined();
  });
});
