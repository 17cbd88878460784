import { describe, expect, it } from 'vitest';
import { ApiKey, apiCodec } from '../../../protocol/generated/index.js';
import * as createAclsReq from '../../../protocol/generated/create-acls-request.js';
import * as deleteAclsReq from '../../../protocol/generated/delete-acls-request.js';
import * as alterQuotasReq from '../../../protocol/generated/alter-client-quotas-request.js';
import * as scramReq from '../../../protocol/generated/alter-user-scram-credentials-request.js';
import * as describeTokenRes from '../../../protocol/generated/describe-delegation-token-response.js';
import { ErrorCode } from '../model.js';
import { clusterRuleCases, denyOnly, run, versions } from './test-kit.js';

type Obj = Record<string, any>;
const C = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
const all = (apiKey: number, from?: number) => versions(apiKey, from);

for (const [apiKey, op] of [
  [ApiKey.DescribeAcls, 'Describe'],
  [ApiKey.DescribeLogDirs, 'Describe'],
  [ApiKey.ListPartitionReassignments, 'Describe'],
  [ApiKey.DescribeClientQuotas, 'DescribeConfigs'],
  [ApiKey.DescribeQuorum, 'Describe'],
  [ApiKey.UpdateFeatures, 'Alter'],
  [ApiKey.UnregisterBroker, 'Alter'],
  [ApiKey.AddRaftVoter, 'Alter'],
  [ApiKey.RemoveRaftVoter, 'Alter'],
  [ApiKey.ListConfigResources, 'DescribeConfigs'],
] as const) {
  clusterRuleCases(apiKey, op, all(apiKey));
}

clusterRuleCases(ApiKey.CreateAcls, 'Alter', all(ApiKey.CreateAcls), {
  fields: () => ({ creations: [createAclsReq.defaultAclCreation(), createAclsReq.defaultAclCreation()] }),
  check: (res) => expect((res.results as Obj[]).map((r) => r.errorCode)).toEqual([C, C]),
});
clusterRuleCases(ApiKey.DeleteAcls, 'Alter', all(ApiKey.DeleteAcls), {
  fields: () => ({ filters: [deleteAclsReq.defaultDeleteAclsFilter()] }),
  check: (res) => expect((res.filterResults as Obj[]).map((r) => r.errorCode)).toEqual([C]),
});
clusterRuleCases(ApiKey.AlterReplicaLogDirs, 'Alter', all(ApiKey.AlterReplicaLogDirs), {
  fields: () => ({ dirs: [{ path: '/d', topics: [{ name: 'a', partitions: [0, 1] }] }] }),
  check: (res) => expect(res.results).toEqual([{ topicName: 'a', partitions: [{ partitionIndex: 0, errorCode: C }, { partitionIndex: 1, errorCode: C }] }]),
});
clusterRuleCases(ApiKey.ElectLeaders, 'Alter', all(ApiKey.ElectLeaders), {
  fields: () => ({ topicPartitions: [{ topic: 'a', partitions: [0] }] }),
  check: (res, v) => {
    expect(res.replicaElectionResults[0].partitionResult[0].errorCode).toBe(C);
    if (v >= 1) expect(res.errorCode).toBe(C);
  },
});
clusterRuleCases(ApiKey.AlterClientQuotas, 'AlterConfigs', all(ApiKey.AlterClientQuotas), {
  fields: () => ({ entries: [{ entity: [{ entityType: 'user', entityName: 'u' }], ops: [{ ...alterQuotasReq.defaultOpData(), key: 'k' }] }] }),
  check: (res) => expect(res.entries).toEqual([expect.objectContaining({ errorCode: C, entity: [{ entityType: 'user', entityName: 'u' }] })]),
});
clusterRuleCases(ApiKey.AlterPartitionReassignments, 'Alter', all(ApiKey.AlterPartitionReassignments), {
  fields: () => ({ topics: [{ name: 'a', partitions: [{ partitionIndex: 0, replicas: [1] }] }] }),
});
describe('AlterPartitionReassignments naming a protected topic', () => {
  it.each(all(ApiKey.AlterPartitionReassignments))('v%i: refused whole with CLUSTER_AUTHORIZATION_FAILED, even with Alter on the cluster', (v) => {
    const r = run(ApiKey.AlterPartitionReassignments, v, { topics: ['a', 'audit-trail'].map((name) => ({ name, partitions: [{ partitionIndex: 0, replicas: [1] }] })) });
    expect(r.outcome.kind).toBe('deny');
    expect(r.outcome.kind === 'deny' && r.outcome.errorCode).toBe(C);
    expect(r.response!.errorCode).toBe(C);
    expect(r.asked).toEqual(['Alter topic:audit-trail']);
  });
});

const SCRAM = { scramCredentials: true, protectedUsers: ['gatehouse'] };

describe('SCRAM credentials', () => {
  clusterRuleCases(ApiKey.DescribeUserScramCredentials, 'Describe', all(ApiKey.DescribeUserScramCredentials), { credentialApis: SCRAM });
  clusterRuleCases(ApiKey.AlterUserScramCredentials, 'Alter', all(ApiKey.AlterUserScramCredentials), {
    credentialApis: SCRAM,
    fields: () => ({ deletions: [{ ...scramReq.defaultScramCredentialDeletion(), name: 'u1' }], upsertions: [{ ...scramReq.defaultScramCredentialUpsertion(), name: 'u2' }, { ...scramReq.defaultScramCredentialUpsertion(), name: 'u1' }] }),
    check: (res) => expect((res.results as Obj[]).map((r) => [r.user, r.errorCode])).toEqual([
      ['u1', C],
      ['u2', C],
    ]),
  });

  it.each(all(ApiKey.DescribeUserScramCredentials))('DescribeUserScramCredentials v%i: off unless the configuration turns it on, whatever the policy allows', (v) => {
    const r = run(ApiKey.DescribeUserScramCredentials, v, { users: null });
    expect(r.outcome.kind).toBe('deny');
    expect(r.outcome.kind === 'deny' && r.outcome.errorCode).toBe(C);
    expect(r.response!.errorCode).toBe(C);
    expect(r.asked).toEqual([]);
    expect(r.refused).toEqual(['Describe cluster:kafka-cluster (scram-credentials-disabled)']);
  });

  const upsert = (name: string) => ({ ...scramReq.defaultScramCredentialUpsertion(), name, mechanism: 2, iterations: 4096, salt: Buffer.from('salt'), saltedPassword: Buffer.alloc(64, 1) });
  const del = (name: string) => ({ ...scramReq.defaultScramCredentialDeletion(), name, mechanism: 2 });

  it.each(all(ApiKey.AlterUserScramCredentials))('AlterUserScramCredentials v%i: off unless the configuration turns it on, every user answered CLUSTER_AUTHORIZATION_FAILED', (v) => {
    const r = run(ApiKey.AlterUserScramCredentials, v, { deletions: [], upsertions: [upsert('u1')] });
    expect(r.outcome.kind).toBe('deny');
    expect((r.response!.results as Obj[]).map((x) => [x.user, x.errorCode])).toEqual([['u1', C]]);
    expect(r.asked).toEqual([]);
    expect(r.refused).toEqual(['Alter cluster:kafka-cluster (scram-credentials-disabled)']);
  });

  it.each(all(ApiKey.AlterUserScramCredentials))('AlterUserScramCredentials v%i: the proxy\'s own upstream user is never changed; the others go to the broker', (v) => {
    const r = run(ApiKey.AlterUserScramCredentials, v, { deletions: [del('gatehouse'), del('u2')], upsertions: [upsert('u1'), upsert('gatehouse')] }, {
      credentialApis: SCRAM,
      broker: (fwd) => ({ throttleTimeMs: 0, results: [...(fwd!.deletions as Obj[]), ...(fwd!.upsertions as Obj[])].map((x) => ({ user: x.name, errorCode: 0, errorMessage: null })) }),
    });
    expect(r.outcome.kind).toBe('split');
    expect((r.forwarded!.deletions as Obj[]).map((x) => x.name)).toEqual(['u2']);
    expect((r.forwarded!.upsertions as Obj[]).map((x) => x.name)).toEqual(['u1']);
    expect(r.forwarded!.upsertions[0].saltedPassword).toEqual(Buffer.alloc(64, 1));
    expect((r.merged!.results as Obj[]).map((x) => [x.user, x.errorCode])).toEqual([
      ['gatehouse', C],
      ['u2', 0],
      ['u1', 0],
    ]);
    expect(r.refused).toEqual(['Alter cluster:kafka-cluster (proxy-upstream-account)']);
    const only = run(ApiKey.AlterUserScramCredentials, v, { deletions: [del('gatehouse')], upsertions: [] }, { credentialApis: SCRAM });
    expect(only.outcome.kind).toBe('deny');
    expect((only.response!.results as Obj[]).map((x) => [x.user, x.errorCode])).toEqual([['gatehouse', C]]);
  });
});

describe('Delegation tokens', () => {
  const ON = { delegationTokens: true };
  const T = ErrorCode.DELEGATION_TOKEN_AUTHORIZATION_FAILED;
  for (const apiKey of [ApiKey.CreateDelegationToken, ApiKey.RenewDelegationToken, ApiKey.ExpireDelegationToken]) {
    clusterRuleCases(apiKey, 'CreateTokens', all(apiKey), {
      code: T,
      credentialApis: ON,
      check: (res) => expect(res.errorCode).toBe(T),
    });
    it.each(all(apiKey))(`${apiCodec(apiKey)!.name} v%i: off unless the configuration turns them on, whatever the policy allows`, (v) => {
      const r = run(apiKey, v, {});
      expect(r.outcome.kind).toBe('deny');
      expect(r.outcome.kind === 'deny' && r.outcome.errorCode).toBe(T);
      expect(r.response!.errorCode).toBe(T);
      expect(r.asked).toEqual([]);
      expect(r.refused).toEqual(['CreateTokens cluster:kafka-cluster (delegation-tokens-disabled)']);
    });
  }

  it.each(all(ApiKey.CreateDelegationToken, 3))('CreateDelegationToken v%i: a token for another owner is refused', (v) => {
    const r = run(ApiKey.CreateDelegationToken, v, { ownerPrincipalType: 'User', ownerPrincipalName: 'alice' }, { credentialApis: ON });
    expect(r.outcome.kind).toBe('deny');
    expect(r.response!.errorCode).toBe(T);
    expect(r.refused).toEqual(['CreateTokens cluster:kafka-cluster (token-for-another-owner)']);
    // Null or empty: the requester's own token, as the broker reads it.
    expect(run(ApiKey.CreateDelegationToken, v, { ownerPrincipalType: null, ownerPrincipalName: null }, { credentialApis: ON }).outcome.kind).toBe('allow');
    expect(run(ApiKey.CreateDelegationToken, v, { ownerPrincipalType: 'User', ownerPrincipalName: '' }, { credentialApis: ON }).outcome.kind).toBe('allow');
  });

  const token = (tokenId: string) => ({ ...describeTokenRes.defaultDescribedDelegationToken(), tokenId, principalType: 'User', principalName: 'gatehouse', hmac: Buffer.from(`secret-of-${tokenId}`), renewers: [] });

  it.each(all(ApiKey.DescribeDelegationToken))('DescribeDelegationToken v%i: DescribeTokens on the cluster, HMACs answered empty; else an empty list', (v) => {
    const ok = run(ApiKey.DescribeDelegationToken, v, {}, { credentialApis: ON, broker: () => ({ ...describeTokenRes.defaultDescribeDelegationTokenResponse(), tokens: [token('t1'), token('t2')] }) });
    expect(ok.outcome.kind).toBe('filter');
    expect(ok.asked).toEqual(['DescribeTokens cluster:kafka-cluster']);
    expect((ok.merged!.tokens as Obj[]).map((t) => [t.tokenId, t.principalName, t.hmac.length])).toEqual([
      ['t1', 'gatehouse', 0],
      ['t2', 'gatehouse', 0],
    ]);
    const none = run(ApiKey.DescribeDelegationToken, v, {}, { credentialApis: ON, decide: denyOnly('DescribeTokens cluster:kafka-cluster') });
    expect(none.outcome.kind).toBe('deny');
    expect(none.response).toEqual(expect.objectContaining({ errorCode: 0, tokens: [] }));
  });

  it.each(all(ApiKey.DescribeDelegationToken))('DescribeDelegationToken v%i: off unless the configuration turns it on: an empty list', (v) => {
    const off = run(ApiKey.DescribeDelegationToken, v, {});
    expect(off.outcome.kind).toBe('deny');
    expect(off.outcome.kind === 'deny' && off.outcome.errorCode).toBe(T);
    expect(off.response).toEqual(expect.objectContaining({ errorCode: 0, tokens: [] }));
    expect(off.asked).toEqual([]);
    expect(off.refused).toEqual(['DescribeTokens cluster:kafka-cluster (delegation-tokens-disabled)']);
  });
});
