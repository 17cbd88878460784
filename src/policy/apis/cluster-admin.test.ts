import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../../protocol/generated/index.js';
import * as createAclsReq from '../../../protocol/generated/create-acls-request.js';
import * as deleteAclsReq from '../../../protocol/generated/delete-acls-request.js';
import * as alterQuotasReq from '../../../protocol/generated/alter-client-quotas-request.js';
import * as scramReq from '../../../protocol/generated/alter-user-scram-credentials-request.js';
import { ErrorCode } from '../model.js';
import { clusterRuleCases, denyOnly, run, versions } from './test-kit.js';

type Obj = Record<string, any>;
const C = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
const all = (apiKey: number) => versions(apiKey);

for (const [apiKey, op] of [
  [ApiKey.DescribeAcls, 'Describe'],
  [ApiKey.DescribeLogDirs, 'Describe'],
  [ApiKey.AlterPartitionReassignments, 'Alter'],
  [ApiKey.ListPartitionReassignments, 'Describe'],
  [ApiKey.DescribeClientQuotas, 'DescribeConfigs'],
  [ApiKey.DescribeUserScramCredentials, 'Describe'],
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
clusterRuleCases(ApiKey.AlterUserScramCredentials, 'Alter', all(ApiKey.AlterUserScramCredentials), {
  fields: () => ({ deletions: [{ ...scramReq.defaultScramCredentialDeletion(), name: 'u1' }], upsertions: [{ ...scramReq.defaultScramCredentialUpsertion(), name: 'u2' }, { ...scramReq.defaultScramCredentialUpsertion(), name: 'u1' }] }),
  check: (res) => expect((res.results as Obj[]).map((r) => [r.user, r.errorCode])).toEqual([
    ['u1', C],
    ['u2', C],
  ]),
});

describe('Delegation tokens', () => {
  for (const apiKey of [ApiKey.CreateDelegationToken, ApiKey.RenewDelegationToken, ApiKey.ExpireDelegationToken]) {
    clusterRuleCases(apiKey, 'CreateTokens', all(apiKey), {
      code: ErrorCode.DELEGATION_TOKEN_AUTHORIZATION_FAILED,
      check: (res) => expect(res.errorCode).toBe(ErrorCode.DELEGATION_TOKEN_AUTHORIZATION_FAILED),
    });
  }
  it.each(all(ApiKey.DescribeDelegationToken))('DescribeDelegationToken v%i: DescribeTokens on the cluster, else an empty list', (v) => {
    const ok = run(ApiKey.DescribeDelegationToken, v, {});
    expect(ok.outcome.kind).toBe('allow');
    expect(ok.asked).toEqual(['DescribeTokens cluster:kafka-cluster']);
    const none = run(ApiKey.DescribeDelegationToken, v, {}, { decide: denyOnly('DescribeTokens cluster:kafka-cluster') });
    expect(none.outcome.kind).toBe('deny');
    expect(none.response).toEqual(expect.objectContaining({ errorCode: 0, tokens: [] }));
  });
});
