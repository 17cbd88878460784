/**
 * The per-API authorization rules table: one rule for each of the 71 client-facing API keys
 * the proxy has codecs for (index.test.ts checks the table against allApis()). Kafka's own
 * semantics ("Operations and Resources on Protocols", KafkaApis) are followed; each family's
 * file says where Gatehouse differs.
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import { ALLOW } from './helpers.js';
import type { ApiRule } from './types.js';
import { deleteRecordsRule, describeProducersRule, listOffsetsRule, offsetForLeaderEpochRule, produceRule } from './data.js';
import { fetchRule } from './fetch.js';
import { describeClusterRule, describeTopicPartitionsRule, metadataRule } from './metadata.js';
import {
  consumerGroupDescribeRule,
  deleteGroupsRule,
  describeGroupsRuleClassic,
  describeShareGroupOffsetsRule,
  findCoordinatorRule,
  groupMembershipRule,
  listGroupsRule,
  offsetCommitRule,
  offsetDeleteRule,
  offsetFetchRule,
} from './groups.js';
import {
  alterShareGroupOffsetsRule,
  consumerGroupHeartbeatRule,
  deleteShareGroupOffsetsRule,
  shareAcknowledgeRule,
  shareFetchRule,
  shareGroupDescribeRule,
  shareGroupHeartbeatRule,
  streamsGroupDescribeRule,
  streamsGroupHeartbeatRule,
} from './share-streams.js';
import {
  addOffsetsToTxnRule,
  addPartitionsToTxnRule,
  describeTransactionsRule,
  endTxnRule,
  initProducerIdRule,
  listTransactionsRule,
  txnOffsetCommitRule,
} from './transactions.js';
import {
  alterConfigsRule,
  createPartitionsRule,
  createTopicsRule,
  deleteTopicsRule,
  describeConfigsRule,
  incrementalAlterConfigsRule,
} from './topics-admin.js';
import {
  addRaftVoterRule,
  alterClientQuotasRule,
  alterPartitionReassignmentsRule,
  alterReplicaLogDirsRule,
  alterUserScramCredentialsRule,
  createAclsRule,
  createDelegationTokenRule,
  deleteAclsRule,
  describeAclsRule,
  describeClientQuotasRule,
  describeDelegationTokenRule,
  describeLogDirsRule,
  describeQuorumRule,
  describeUserScramCredentialsRule,
  electLeadersRule,
  expireDelegationTokenRule,
  listConfigResourcesRule,
  listPartitionReassignmentsRule,
  removeRaftVoterRule,
  renewDelegationTokenRule,
  unregisterBrokerRule,
  updateFeaturesRule,
} from './cluster-admin.js';

export { genericDenial } from './helpers.js';
export { topicIdsFromMetadata } from './metadata.js';
export type { ApiRule, AuthzContext, Outcome } from './types.js';

/** Allowed for any authenticated client (the stage lets no unauthenticated request reach a rule). */
function anyAuthenticated(apiKey: number): ApiRule {
  return { apiKey, authorize: () => ALLOW };
}

/** Every rule, by API key. */
export const API_RULES: ReadonlyMap<number, ApiRule> = new Map(
  [
    produceRule,
    fetchRule,
    listOffsetsRule,
    metadataRule,
    offsetCommitRule,
    offsetFetchRule,
    findCoordinatorRule,
    groupMembershipRule(ApiKey.JoinGroup),
    groupMembershipRule(ApiKey.Heartbeat),
    groupMembershipRule(ApiKey.LeaveGroup),
    groupMembershipRule(ApiKey.SyncGroup),
    describeGroupsRuleClassic,
    listGroupsRule,
    anyAuthenticated(ApiKey.SaslHandshake),
    anyAuthenticated(ApiKey.ApiVersions),
    createTopicsRule,
    deleteTopicsRule,
    deleteRecordsRule,
    initProducerIdRule,
    offsetForLeaderEpochRule,
    addPartitionsToTxnRule,
    addOffsetsToTxnRule,
    endTxnRule,
    txnOffsetCommitRule,
    describeAclsRule,
    createAclsRule,
    deleteAclsRule,
    describeConfigsRule,
    alterConfigsRule,
    alterReplicaLogDirsRule,
    describeLogDirsRule,
    anyAuthenticated(ApiKey.SaslAuthenticate),
    createPartitionsRule,
    createDelegationTokenRule,
    renewDelegationTokenRule,
    expireDelegationTokenRule,
    describeDelegationTokenRule,
    deleteGroupsRule,
    electLeadersRule,
    incrementalAlterConfigsRule,
    alterPartitionReassignmentsRule,
    listPartitionReassignmentsRule,
    offsetDeleteRule,
    describeClientQuotasRule,
    alterClientQuotasRule,
    describeUserScramCredentialsRule,
    alterUserScramCredentialsRule,
    describeQuorumRule,
    updateFeaturesRule,
    describeClusterRule,
    describeProducersRule,
    unregisterBrokerRule,
    describeTransactionsRule,
    listTransactionsRule,
    consumerGroupHeartbeatRule,
    consumerGroupDescribeRule,
    anyAuthenticated(ApiKey.GetTelemetrySubscriptions),
    anyAuthenticated(ApiKey.PushTelemetry),
    listConfigResourcesRule,
    describeTopicPartitionsRule,
    shareGroupHeartbeatRule,
    shareGroupDescribeRule,
    shareFetchRule,
    shareAcknowledgeRule,
    addRaftVoterRule,
    removeRaftVoterRule,
    streamsGroupHeartbeatRule,
    streamsGroupDescribeRule,
    describeShareGroupOffsetsRule,
    alterShareGroupOffsetsRule,
    deleteShareGroupOffsetsRule,
  ].map((r) => [r.apiKey, r] as const),
);

/** The rule for an API key, or undefined (the stage denies such a request). */
export function ruleFor(apiKey: number): ApiRule | undefined {
  return API_RULES.get(apiKey);
}
