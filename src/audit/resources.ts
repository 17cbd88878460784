/**
 * What a request touches, read from its decoded body, for requests the policy stage did not
 * record a decision for: topics, groups, transactional ids and config resources, with the
 * operation Kafka's authorizer would check for the API.
 */
import type { ResourceRef } from './events.js';

const OPERATIONS: Record<string, string> = {
  Produce: 'Write',
  Fetch: 'Read',
  ListOffsets: 'Describe',
  Metadata: 'Describe',
  OffsetCommit: 'Read',
  OffsetFetch: 'Describe',
  FindCoordinator: 'Describe',
  JoinGroup: 'Read',
  Heartbeat: 'Read',
  LeaveGroup: 'Read',
  SyncGroup: 'Read',
  DescribeGroups: 'Describe',
  ListGroups: 'Describe',
  CreateTopics: 'Create',
  DeleteTopics: 'Delete',
  DeleteRecords: 'Delete',
  InitProducerId: 'Write',
  AddPartitionsToTxn: 'Write',
  AddOffsetsToTxn: 'Write',
  EndTxn: 'Write',
  TxnOffsetCommit: 'Read',
  DescribeAcls: 'Describe',
  CreateAcls: 'Alter',
  DeleteAcls: 'Alter',
  DescribeConfigs: 'DescribeConfigs',
  AlterConfigs: 'AlterConfigs',
  IncrementalAlterConfigs: 'AlterConfigs',
  CreatePartitions: 'Alter',
  DeleteGroups: 'Delete',
  OffsetDelete: 'Delete',
  ConsumerGroupHeartbeat: 'Read',
  ConsumerGroupDescribe: 'Describe',
  DescribeProducers: 'Read',
  DescribeTransactions: 'Describe',
  ListTransactions: 'Describe',
  ElectLeaders: 'Alter',
  AlterPartitionReassignments: 'Alter',
  ListPartitionReassignments: 'Describe',
  DescribeCluster: 'Describe',
};

export function operationOf(apiName: string): string | null {
  return OPERATIONS[apiName] ?? null;
}

/** Config resource types (DescribeConfigs and friends): 2 topic, 3 broker, 4 broker logger, 16 client metrics, 32 group. */
const CONFIG_TYPES: Record<number, string> = { 2: 'topic', 3: 'cluster', 4: 'cluster', 16: 'clientMetrics', 32: 'group' };

/** Resources named in a request body (heuristic over the generated shapes, depth-limited). */
export function extractResources(apiName: string, body: unknown, topicName: (id: string) => string | undefined): ResourceRef[] {
  const out = new Map<string, ResourceRef>();
  const op = operationOf(apiName) ?? undefined;
  const add = (type: string, name: string | null | undefined) => {
    if (!name) return;
    const key = `${type}\u0000${name}`;
    if (!out.has(key)) out.set(key, op ? { type, name, operation: op } : { type, name });
  };
  const b = body as Record<string, unknown>;
  if (!b || typeof b !== 'object') return [];
  for (const field of ['topics', 'topicData', 'topicNames']) {
    const list = b[field];
    if (!Array.isArray(list)) continue;
    for (const t of list) {
      if (typeof t === 'string') add('topic', t);
      else if (t && typeof t === 'object') {
        const o = t as Record<string, unknown>;
        const name = (typeof o.name === 'string' && o.name) || (typeof o.topic === 'string' && o.topic) || (typeof o.topicId === 'string' ? topicName(o.topicId) : undefined);
        add('topic', name || undefined);
      }
    }
  }
  if (typeof b.groupId === 'string') add('group', b.groupId);
  if (Array.isArray(b.groups)) for (const g of b.groups) add('group', typeof g === 'string' ? g : ((g as { groupId?: string })?.groupId ?? null));
  if (Array.isArray(b.groupsNames)) for (const g of b.groupsNames) add('group', g as string);
  if (typeof b.key === 'string' && apiName === 'FindCoordinator') add(b.keyType === 1 ? 'transactionalId' : 'group', b.key);
  if (Array.isArray(b.coordinatorKeys)) for (const k of b.coordinatorKeys) add(b.keyType === 1 ? 'transactionalId' : 'group', k as string);
  if (typeof b.transactionalId === 'string') add('transactionalId', b.transactionalId);
  if (Array.isArray(b.resources)) {
    for (const r of b.resources as Array<Record<string, unknown>>) {
      const type = CONFIG_TYPES[r?.resourceType as number];
      if (type) add(type, type === 'cluster' ? 'kafka-cluster' : (r.resourceName as string));
    }
  }
  return [...out.values()];
}
