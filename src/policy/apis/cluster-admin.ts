/**
 * Cluster administration: APIs Kafka authorizes as a whole on the cluster resource, answered
 * with CLUSTER_AUTHORIZATION_FAILED in the API's own shape (top-level errorCode, or one entry per
 * item where the answer has no top-level error), and the broker-credential APIs (SCRAM
 * credentials, delegation tokens), which the configuration must turn on first.
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import * as deleteAclsRes from '../../../protocol/generated/delete-acls-response.js';
import * as electLeadersRes from '../../../protocol/generated/elect-leaders-response.js';
import { Errors, clusterAction, clusterRule, deny, genericDenial, onCluster, requireAll, splitItems, ALLOW } from './helpers.js';
import type { Action } from '../model.js';
import type { ApiRule, AuthzContext, Outcome } from './types.js';

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

/**
 * AlterPartitionReassignments: Alter on the cluster; a request that names a protected topic is
 * refused whole with CLUSTER_AUTHORIZATION_FAILED (the code this API's denials carry): moving or
 * shrinking the audit topic's replicas is altering it, which no client may.
 */
export const alterPartitionReassignmentsRule: ApiRule = {
  apiKey: ApiKey.AlterPartitionReassignments,
  authorize: requireAll(
    ApiKey.AlterPartitionReassignments,
    (req: Obj, ctx) => {
      const guarded = [...new Set((req.topics as Obj[]).map((t) => t.name as string))].filter((name) => ctx.isProtectedTopic(name));
      return [...guarded.map((name): Action => ({ resourceType: 'topic', name, operation: 'Alter' })), clusterAction('Alter')];
    },
    { code: Errors.CLUSTER_AUTHORIZATION_FAILED },
  ),
};
export const listPartitionReassignmentsRule: ApiRule = clusterRule(ApiKey.ListPartitionReassignments, 'Describe');
export const describeClientQuotasRule: ApiRule = clusterRule(ApiKey.DescribeClientQuotas, 'DescribeConfigs');

export const alterClientQuotasRule: ApiRule = clusterRule(ApiKey.AlterClientQuotas, 'AlterConfigs', {
  shape: (res, req, code) => {
    res.entries = (req.entries as Obj[]).map((e) => ({ errorCode: code, errorMessage: null, entity: e.entity }));
  },
});

/**
 * SCRAM credentials (off unless `policy.brokerCredentialApis.scramCredentials`, see
 * credential-apis.ts). DescribeUserScramCredentials: Describe on the cluster. It names the
 * broker's SCRAM accounts, the proxy's own among them: the list an attacker would try passwords
 * against straight at the broker, and nothing a proxy client needs.
 */
export const describeUserScramCredentialsRule: ApiRule = {
  apiKey: ApiKey.DescribeUserScramCredentials,
  authorize: (_req, ctx) =>
    scramEnabled(ctx, 'Describe') && onCluster(ctx, 'Describe') ? ALLOW : deny(genericDenial(ApiKey.DescribeUserScramCredentials, ctx.version, Errors.CLUSTER_AUTHORIZATION_FAILED), Errors.CLUSTER_AUTHORIZATION_FAILED),
};

function scramEnabled(ctx: AuthzContext, operation: 'Describe' | 'Alter'): boolean {
  return ctx.credentialApis.scramCredentials || ctx.refuse(clusterAction(operation), 'scram-credentials-disabled');
}

/**
 * AlterUserScramCredentials: Alter on the cluster, else every user named in deletions and
 * upsertions answered CLUSTER_AUTHORIZATION_FAILED. The proxy's own upstream account is never
 * changed: its deletions and upsertions are answered CLUSTER_AUTHORIZATION_FAILED by the proxy
 * and the other users' go to the broker.
 */
export const alterUserScramCredentialsRule: ApiRule = {
  apiKey: ApiKey.AlterUserScramCredentials,
  authorize(req: Obj, ctx): Outcome {
    const users = [...new Set([...(req.deletions as Obj[]), ...(req.upsertions as Obj[])].map((c) => c.name as string))];
    const code = Errors.CLUSTER_AUTHORIZATION_FAILED;
    const entry = (user: string, errorCode: number): Obj => ({ user, errorCode, errorMessage: null });
    if (!scramEnabled(ctx, 'Alter') || !onCluster(ctx, 'Alter')) {
      const res = genericDenial(ApiKey.AlterUserScramCredentials, ctx.version, code);
      res.results = users.map((u) => entry(u, code));
      return deny(res, code);
    }
    const guarded = new Set(ctx.credentialApis.protectedUsers);
    return splitItems<string, Obj>({
      items: users,
      code: (user) => (guarded.has(user) ? (ctx.refuse(clusterAction('Alter'), 'proxy-upstream-account'), code) : 0),
      request: (kept) => {
        const keep = new Set(kept);
        return { ...req, deletions: (req.deletions as Obj[]).filter((d) => keep.has(d.name)), upsertions: (req.upsertions as Obj[]).filter((u) => keep.has(u.name)) };
      },
      denied: (user, c) => entry(user, c),
      results: (res) => res.results,
      withResults: (res, results) => ({ ...res, results }),
      empty: () => genericDenial(ApiKey.AlterUserScramCredentials, ctx.version, 0),
      key: (user) => user,
      resultKey: (r) => r.user,
    });
  },
};

export const describeQuorumRule: ApiRule = clusterRule(ApiKey.DescribeQuorum, 'Describe');
export const updateFeaturesRule: ApiRule = clusterRule(ApiKey.UpdateFeatures, 'Alter');
export const unregisterBrokerRule: ApiRule = clusterRule(ApiKey.UnregisterBroker, 'Alter');
export const addRaftVoterRule: ApiRule = clusterRule(ApiKey.AddRaftVoter, 'Alter');
export const removeRaftVoterRule: ApiRule = clusterRule(ApiKey.RemoveRaftVoter, 'Alter');
export const listConfigResourcesRule: ApiRule = clusterRule(ApiKey.ListConfigResources, 'DescribeConfigs');

/**
 * Delegation tokens (off unless `policy.brokerCredentialApis.delegationTokens`, see
 * credential-apis.ts). Through the proxy a token is issued to (and owned by) the proxy's own
 * broker credentials, not to the client's principal, so when on: creating, renewing and
 * expiring tokens needs CreateTokens on the cluster, else DELEGATION_TOKEN_AUTHORIZATION_FAILED;
 * DescribeDelegationToken needs DescribeTokens on the cluster, else the answer is an empty token
 * list (as a broker answers a principal who may describe no token). Only a rule naming these
 * operations grants them (`All` does not). A token for another owner (CreateDelegationToken v3
 * ownerPrincipalName) is refused, and the HMACs DescribeDelegationToken would list (each one
 * the secret of a token) are answered empty.
 */
function tokensEnabled(ctx: AuthzContext, operation: 'CreateTokens' | 'DescribeTokens'): boolean {
  return ctx.credentialApis.delegationTokens || ctx.refuse(clusterAction(operation), 'delegation-tokens-disabled');
}

const tokenDenial = (apiKey: number, ctx: AuthzContext): Outcome =>
  deny(genericDenial(apiKey, ctx.version, Errors.DELEGATION_TOKEN_AUTHORIZATION_FAILED), Errors.DELEGATION_TOKEN_AUTHORIZATION_FAILED);

const tokenRule = (apiKey: number): ApiRule => ({
  apiKey,
  authorize: (_req, ctx) => (tokensEnabled(ctx, 'CreateTokens') && onCluster(ctx, 'CreateTokens') ? ALLOW : tokenDenial(apiKey, ctx)),
});

export const createDelegationTokenRule: ApiRule = {
  apiKey: ApiKey.CreateDelegationToken,
  authorize(req: Obj, ctx): Outcome {
    if (!tokensEnabled(ctx, 'CreateTokens')) return tokenDenial(ApiKey.CreateDelegationToken, ctx);
    if (typeof req.ownerPrincipalName === 'string' && req.ownerPrincipalName.length > 0) {
      ctx.refuse(clusterAction('CreateTokens'), 'token-for-another-owner');
      return tokenDenial(ApiKey.CreateDelegationToken, ctx);
    }
    return onCluster(ctx, 'CreateTokens') ? ALLOW : tokenDenial(ApiKey.CreateDelegationToken, ctx);
  },
};
export const renewDelegationTokenRule = tokenRule(ApiKey.RenewDelegationToken);
export const expireDelegationTokenRule = tokenRule(ApiKey.ExpireDelegationToken);

export const describeDelegationTokenRule: ApiRule = {
  apiKey: ApiKey.DescribeDelegationToken,
  authorize: (_req, ctx) =>
    tokensEnabled(ctx, 'DescribeTokens') && onCluster(ctx, 'DescribeTokens')
      ? { kind: 'filter', filter: (res: Obj) => ({ ...res, tokens: (res.tokens as Obj[]).map((t) => ({ ...t, hmac: Buffer.alloc(0) })) }) }
      : deny(genericDenial(ApiKey.DescribeDelegationToken, ctx.version, Errors.NONE), Errors.DELEGATION_TOKEN_AUTHORIZATION_FAILED),
};
