/**
 * What Gatehouse knows about each Kafka API, in one table by API key, shared by the policy and
 * the audit trail: the operation Kafka's authorizer checks and on which resource type, whether
 * the API changes state, which side carries record batches, and where a request names its
 * resources. The per-API policy rules (src/policy/apis/) decide with more detail (several
 * actions, splits, filtered answers); table.test.ts holds them to this table.
 *
 * Sources: Kafka's "Operations and Resources on Protocols" and KafkaApis; the field paths are
 * the generated request shapes (protocol/generated).
 */
import type { Operation, ResourceType } from '../policy/model.js';

/**
 * Where a request names resources, as a path into the decoded body: dots separate fields, `[]`
 * walks an array. The value at the end is a string (or strings), or objects whose `name` /
 * `topic` (or, for topics, `topicId`) names the resource.
 */
export interface ResourceRead {
  type: ResourceType | 'config';
  path: string;
}

export interface ApiFacts {
  readonly apiKey: number;
  readonly name: string;
  /** The operation Kafka checks for the API's main resources; null when none (SASL, ApiVersions, telemetry). */
  readonly operation: Operation | null;
  /** The resource type that operation is checked on. */
  readonly on: ResourceType | null;
  /** Whether a request changes state (audit's "mutation" category, webhooks, alerts). */
  readonly mutates: boolean;
  /** Whether a request reads data or settings (records, configs, ACLs, group or producer state), beyond protocol housekeeping. */
  readonly readsData: boolean;
  /** Which side carries record batches. */
  readonly records?: 'request' | 'response';
  /** Where that side lists partitions with records (field names of the generated shapes). */
  readonly recordsAt?: RecordsAt;
  /** Where requests name resources. */
  readonly reads: readonly ResourceRead[];
}

/** The topic list, its name and id fields, each topic's partition list and partition index field. */
export interface RecordsAt {
  topics: string;
  name: string | null;
  id: string;
  partitions: string;
  index: string;
}

const RECORDS_AT: Record<string, RecordsAt> = {
  Produce: { topics: 'topicData', name: 'name', id: 'topicId', partitions: 'partitionData', index: 'index' },
  Fetch: { topics: 'responses', name: 'topic', id: 'topicId', partitions: 'partitions', index: 'partitionIndex' },
  ShareFetch: { topics: 'responses', name: null, id: 'topicId', partitions: 'partitions', index: 'partitionIndex' },
};

const topics = (path: string): ResourceRead => ({ type: 'topic', path });
const groups = (path: string): ResourceRead => ({ type: 'group', path });
const txn = (path: string): ResourceRead => ({ type: 'transactionalId', path });
const configs: ResourceRead = { type: 'config', path: 'resources' };

type Row = [name: string, operation: Operation | null, on: ResourceType | null, mutates: boolean, reads: ResourceRead[], records?: 'request' | 'response'];

/* eslint-disable no-multi-spaces */
const ROWS: Record<number, Row> = {
  0: ['Produce', 'Write', 'topic', true, [topics('topicData'), txn('transactionalId')], 'request'],
  1: ['Fetch', 'Read', 'topic', false, [topics('topics')], 'response'],
  2: ['ListOffsets', 'Describe', 'topic', false, [topics('topics')]],
  3: ['Metadata', 'Describe', 'topic', false, [topics('topics')]],
  8: ['OffsetCommit', 'Read', 'group', true, [groups('groupId'), topics('topics')]],
  9: ['OffsetFetch', 'Describe', 'group', false, [groups('groupId'), topics('topics'), groups('groups[].groupId'), topics('groups[].topics')]],
  10: ['FindCoordinator', 'Describe', 'group', false, []], // the key's type depends on keyType: see coordinatorKeys()
  11: ['JoinGroup', 'Read', 'group', false, [groups('groupId')]],
  12: ['Heartbeat', 'Read', 'group', false, [groups('groupId')]],
  13: ['LeaveGroup', 'Read', 'group', false, [groups('groupId')]],
  14: ['SyncGroup', 'Read', 'group', false, [groups('groupId')]],
  15: ['DescribeGroups', 'Describe', 'group', false, [groups('groups')]],
  16: ['ListGroups', 'Describe', 'group', false, []],
  17: ['SaslHandshake', null, null, false, []],
  18: ['ApiVersions', null, null, false, []],
  19: ['CreateTopics', 'Create', 'topic', true, [topics('topics')]],
  20: ['DeleteTopics', 'Delete', 'topic', true, [topics('topics'), topics('topicNames')]],
  21: ['DeleteRecords', 'Delete', 'topic', true, [topics('topics')]],
  22: ['InitProducerId', 'Write', 'transactionalId', false, [txn('transactionalId')]],
  23: ['OffsetForLeaderEpoch', 'Describe', 'topic', false, [topics('topics')]],
  24: ['AddPartitionsToTxn', 'Write', 'transactionalId', true, [txn('v3AndBelowTransactionalId'), topics('v3AndBelowTopics'), txn('transactions[].transactionalId'), topics('transactions[].topics')]],
  25: ['AddOffsetsToTxn', 'Write', 'transactionalId', true, [txn('transactionalId'), groups('groupId')]],
  26: ['EndTxn', 'Write', 'transactionalId', true, [txn('transactionalId')]],
  28: ['TxnOffsetCommit', 'Read', 'group', true, [txn('transactionalId'), groups('groupId'), topics('topics')]],
  29: ['DescribeAcls', 'Describe', 'cluster', false, []],
  30: ['CreateAcls', 'Alter', 'cluster', true, []],
  31: ['DeleteAcls', 'Alter', 'cluster', true, []],
  32: ['DescribeConfigs', 'DescribeConfigs', 'topic', false, [configs]],
  33: ['AlterConfigs', 'AlterConfigs', 'topic', true, [configs]],
  34: ['AlterReplicaLogDirs', 'Alter', 'cluster', true, [topics('dirs[].topics')]],
  35: ['DescribeLogDirs', 'Describe', 'cluster', false, [topics('topics')]],
  36: ['SaslAuthenticate', null, null, false, []],
  37: ['CreatePartitions', 'Alter', 'topic', true, [topics('topics')]],
  38: ['CreateDelegationToken', 'CreateTokens', 'cluster', true, []],
  39: ['RenewDelegationToken', 'Alter', 'delegationToken', true, []],
  40: ['ExpireDelegationToken', 'Alter', 'delegationToken', true, []],
  41: ['DescribeDelegationToken', 'Describe', 'delegationToken', false, []],
  42: ['DeleteGroups', 'Delete', 'group', true, [groups('groupsNames')]],
  43: ['ElectLeaders', 'Alter', 'cluster', true, [topics('topicPartitions')]],
  44: ['IncrementalAlterConfigs', 'AlterConfigs', 'topic', true, [configs]],
  45: ['AlterPartitionReassignments', 'Alter', 'cluster', true, [topics('topics')]],
  46: ['ListPartitionReassignments', 'Describe', 'cluster', false, [topics('topics')]],
  47: ['OffsetDelete', 'Delete', 'group', true, [groups('groupId'), topics('topics')]],
  48: ['DescribeClientQuotas', 'DescribeConfigs', 'cluster', false, []],
  49: ['AlterClientQuotas', 'AlterConfigs', 'cluster', true, []],
  50: ['DescribeUserScramCredentials', 'Describe', 'cluster', false, []],
  51: ['AlterUserScramCredentials', 'Alter', 'cluster', true, []],
  55: ['DescribeQuorum', 'Describe', 'cluster', false, []],
  57: ['UpdateFeatures', 'Alter', 'cluster', true, []],
  60: ['DescribeCluster', 'Describe', 'cluster', false, []],
  61: ['DescribeProducers', 'Read', 'topic', false, [topics('topics')]],
  64: ['UnregisterBroker', 'Alter', 'cluster', true, []],
  65: ['DescribeTransactions', 'Describe', 'transactionalId', false, [txn('transactionalIds')]],
  66: ['ListTransactions', 'Describe', 'transactionalId', false, []],
  68: ['ConsumerGroupHeartbeat', 'Read', 'group', false, [groups('groupId'), topics('subscribedTopicNames')]],
  69: ['ConsumerGroupDescribe', 'Describe', 'group', false, [groups('groupIds')]],
  71: ['GetTelemetrySubscriptions', null, null, false, []],
  72: ['PushTelemetry', null, null, false, []],
  74: ['ListConfigResources', 'DescribeConfigs', 'cluster', false, []],
  75: ['DescribeTopicPartitions', 'Describe', 'topic', false, [topics('topics')]],
  76: ['ShareGroupHeartbeat', 'Read', 'group', false, [groups('groupId'), topics('subscribedTopicNames')]],
  77: ['ShareGroupDescribe', 'Describe', 'group', false, [groups('groupIds')]],
  78: ['ShareFetch', 'Read', 'topic', false, [groups('groupId'), topics('topics')], 'response'],
  79: ['ShareAcknowledge', 'Read', 'group', false, [groups('groupId'), topics('topics')]],
  80: ['AddRaftVoter', 'Alter', 'cluster', true, []],
  81: ['RemoveRaftVoter', 'Alter', 'cluster', true, []],
  88: ['StreamsGroupHeartbeat', 'Read', 'group', false, [groups('groupId')]],
  89: ['StreamsGroupDescribe', 'Describe', 'group', false, [groups('groupIds')]],
  90: ['DescribeShareGroupOffsets', 'Describe', 'group', false, [groups('groups[].groupId'), topics('groups[].topics')]],
  91: ['AlterShareGroupOffsets', 'Read', 'group', true, [groups('groupId'), topics('topics')]],
  92: ['DeleteShareGroupOffsets', 'Delete', 'group', true, [groups('groupId'), topics('topics')]],
};

/**
 * Reads of data or settings (what fail-closed audit refuses besides mutations); the rest is
 * protocol housekeeping: ApiVersions, SASL, Metadata, FindCoordinator, group membership and
 * heartbeats, OffsetFetch, ListOffsets.
 */
const DATA_READS = new Set([
  'Fetch', 'ShareFetch', 'DescribeConfigs', 'DescribeAcls', 'DescribeGroups', 'ConsumerGroupDescribe', 'DescribeProducers', 'DescribeTransactions',
  'DescribeUserScramCredentials', 'DescribeDelegationToken', 'DescribeClientQuotas', 'DescribeLogDirs',
]);

/** Every API the proxy has codecs for, by key. */
export const API_TABLE: ReadonlyMap<number, ApiFacts> = new Map(
  Object.entries(ROWS).map(([key, [name, operation, on, mutates, reads, records]]) => {
    const facts: ApiFacts = { apiKey: Number(key), name, operation, on, mutates, readsData: DATA_READS.has(name), reads, ...(records ? { records, recordsAt: RECORDS_AT[name] } : {}) };
    return [Number(key), facts] as const;
  }),
);

const BY_NAME = new Map([...API_TABLE.values()].map((f) => [f.name, f] as const));

export function apiFacts(apiKey: number): ApiFacts | undefined {
  return API_TABLE.get(apiKey);
}

export function apiFactsByName(name: string): ApiFacts | undefined {
  return BY_NAME.get(name);
}
