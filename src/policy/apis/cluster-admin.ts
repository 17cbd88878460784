/**
 * Cluster administration: APIs Kafka authorizes as a whole on the cluster resource, answered
 * with CLUSTER_AUTHORIZATION_FAILED in the API's own shape (top-level errorCode, or one entry per
 * item where the answer has no top-level error), and the delegation-token APIs.
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import * as deleteAclsRes from '../../../protocol/generated/delete-acls-response.js';
import * as electLeadersRes from '../../../protocol/generated/elect-leaders-response.js';
import { Errors, clusterRule, deny, genericDenial, onCluster, ALLOW } from './helpers.js';
import type { ApiRule } from './types.js';

type Obj = Record<string, any>;

export const describeAclsRule: ApiRule = clusterRule(ApiKey.DescribeAcls, 'Describe');

export const createAclsRule: ApiRule = clusterRule(ApiKey.CreateAcls, 'Alter', {
  shape: (res, req, code) => {
    res.results = (req.creations as Obj[]).map(() => ({ errorCode: code, errorMessage: null }));
  },
});

export const deleteAclsRule: ApiRule = clusterRule(ApiKey.DeleteAcls, 'Alter', {
  shape: (res, req, code) => {
    res.filterResults = (req.filters as Obj[]).map(() => ({ ...deleteAclsRes.defaultDeleteAclsFilterResult(), errorCode: code, errorMessage: null }));
  },
});

export const alterReplicaLogDirsRule: ApiRule = clusterRule(ApiKey.AlterReplicaLogDirs, 'Alter', {
  shape: (res, req, code) => {
    res.results = (req.dirs as Obj[]).flatMap((d) =>
      (d.topics as Obj[]).map((t) => ({ topicName: t.name, partitions: (t.partitions as number[]).map((partitionIndex) => ({ partitionIndex, errorCode: code })) })),
    );
  },
});

/** DescribeLogDirs: Describe on the cluster; v0-2 have no error field, an empty answer as Kafka's. */
export const describeLogDirsRule: ApiRule = clusterRule(ApiKey.DescribeLogDirs, 'Describe');

/** ElectLeaders: Alter on the cluster; every named partition answered with the error too (v0 has no top-level error). */
export const electLeadersRule: ApiRule = clusterRule(ApiKey.ElectLeaders, 'Alter', {
  shape: (res, req, code) => {
    res.replicaElectionResults = ((req.topicPartitions ?? []) as Obj[]).map((t) => ({
      ...electLeadersRes.defaultReplicaElectionResult(),
      topic: t.topic,
      partitionResult: (t.partitions as number[]).map((partitionId) => ({ partitionId, errorCode: code, errorMessage: null })),
    }));
  },
});

export const alterPartitionReassignmentsRule: ApiRule = clusterRule(ApiKey.AlterPartitionReassignments, 'Alter');
export const listPartitionReassignmentsRule: ApiRule = clusterRule(ApiKey.ListPartitionReassignments, 'Describe');
export const describeClientQuotasRule: ApiRule = clusterRule(ApiKey.DescribeClientQuotas, 'DescribeConfigs');

export const alterClientQuotasRule: ApiRule = clusterRule(ApiKey.AlterClientQuotas, 'AlterConfigs', {
  shape: (res, req, code) => {
    res.entries = (req.entries as Obj[]).map((e) => ({ errorCode: code, errorMessage: null, entity: e.entity }));
  },
});

export const describeUserScramCredentialsRule: ApiRule = clusterRule(ApiKey.DescribeUserScramCredentials, 'Describe');

/** AlterUserScramCredentials: Alter on the cluster; one result per user named in deletions and upsertions. */
export const alterUserScramCredentialsRule: ApiRule = clusterRule(ApiKey.AlterUserScramCredentials, 'Alter', {
  shape: (res, req, code) => {
    const users = new Set([...(req.deletions as Obj[]), ...(req.upsertions as Obj[])].map((c) => c.name as string));
    res.results = [...users].map((user) => ({ user, errorCode: code, errorMessage: null }));
  },
});

export const describeQuorumRule: ApiRule = clusterRule(ApiKey.DescribeQuorum, 'Describe');
export const updateFeaturesRule: ApiRule = clusterRule(ApiKey.UpdateFeatures, 'Alter');
export const unregisterBrokerRule: ApiRule = clusterRule(ApiKey.UnregisterBroker, 'Alter');
export const addRaftVoterRule: ApiRule = clusterRule(ApiKey.AddRaftVoter, 'Alter');
export const removeRaftVoterRule: ApiRule = clusterRule(ApiKey.RemoveRaftVoter, 'Alter');
export const listConfigResourcesRule: ApiRule = clusterRule(ApiKey.ListConfigResources, 'DescribeConfigs');

/**
 * Delegation tokens. Through the proxy a token would be issued to (and owned by) the proxy's
 * own broker credentials, not to the client's principal, so Gatehouse keeps this simple: creating,
 * renewing and expiring tokens needs CreateTokens on the cluster (a policy grants it only on
 * purpose), else DELEGATION_TOKEN_AUTHORIZATION_FAILED; DescribeDelegationToken needs
 * DescribeTokens on the cluster, else the answer is an empty token list (as a broker answers a
 * principal who may describe no token).
 */
const tokenRule = (apiKey: number): ApiRule => clusterRule(apiKey, 'CreateTokens', { code: Errors.DELEGATION_TOKEN_AUTHORIZATION_FAILED });

export const createDelegationTokenRule = tokenRule(ApiKey.CreateDelegationToken);
export const renewDelegationTokenRule = tokenRule(ApiKey.RenewDelegationToken);
export const expireDelegationTokenRule = tokenRule(ApiKey.ExpireDelegationToken);

export const describeDelegationTokenRule: ApiRule = {
  apiKey: ApiKey.DescribeDelegationToken,
  authorize: (_req, ctx) =>
    onCluster(ctx, 'DescribeTokens') ? ALLOW : deny(genericDenial(ApiKey.DescribeDelegationToken, ctx.version, Errors.NONE), Errors.DELEGATION_TOKEN_AUTHORIZATION_FAILED),
};
