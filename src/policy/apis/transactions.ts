/**
 * Idempotent and transactional producers: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
 * EndTxn, TxnOffsetCommit, DescribeTransactions, ListTransactions.
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import * as addPartitionsRes from '../../../protocol/generated/add-partitions-to-txn-response.js';
import * as txnCommitRes from '../../../protocol/generated/txn-offset-commit-response.js';
import * as describeTxnRes from '../../../protocol/generated/describe-transactions-response.js';
import type { Action } from '../model.js';
import { ALLOW, Errors, byName, can, clusterAction, deny, flatSplit, gate, genericDenial, namedTopics, onCluster, requireAll, topicSplit, type FlatRule } from './helpers.js';
import type { ApiRule } from './types.js';

type Obj = Record<string, any>;

const txnWrite = (name: string): Action => ({ resourceType: 'transactionalId', name, operation: 'Write' });
const groupRead = (name: string): Action => ({ resourceType: 'group', name, operation: 'Read' });

/**
 * InitProducerId: a transactional id needs Write on it; an idempotent producer (no id) needs
 * IdempotentWrite on the cluster or Write on some topic (Kafka's authorizeByResourceType), else
 * CLUSTER_AUTHORIZATION_FAILED. (KIP-939's enable2Pc needs TwoPhaseCommit on the transactional
 * id in Kafka; the policy model has no such operation, so Write is what is asked.)
 */
export const initProducerIdRule: ApiRule = {
  apiKey: ApiKey.InitProducerId,
  authorize(req, ctx) {
    const txn: string | null = req.transactionalId;
    const code =
      txn !== null
        ? can(ctx, 'transactionalId', txn, 'Write')
          ? 0
          : Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        : onCluster(ctx, 'IdempotentWrite') || ctx.allowedOnAny('topic', 'Write')
          ? 0
          : Errors.CLUSTER_AUTHORIZATION_FAILED;
    if (code === 0) return ALLOW;
    return deny({ ...genericDenial(ApiKey.InitProducerId, ctx.version, code), producerId: -1n, producerEpoch: -1 }, code);
  },
};

/** The v0-3 answer: every partition of the request with `code(topic)`. */
function addPartitionsV3(req: Obj, version: number, code: (topic: string) => number): Obj {
  const res = genericDenial(ApiKey.AddPartitionsToTxn, version, 0);
  res.resultsByTopicV3AndBelow = (req.v3AndBelowTopics as Obj[]).map((t) => ({
    ...addPartitionsRes.defaultAddPartitionsToTxnTopicResult(),
    name: t.name,
    resultsByPartition: (t.partitions as number[]).map((p) => ({ ...addPartitionsRes.defaultAddPartitionsToTxnPartitionResult(), partitionIndex: p, partitionErrorCode: code(t.name) })),
  }));
  return res;
}

/**
 * AddPartitionsToTxn v0-3 (clients): Write on the transactional id (else every partition
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and Write on each topic; as Kafka, a request with any
 * denied topic is not forwarded at all: denied topics TOPIC_AUTHORIZATION_FAILED, the others
 * OPERATION_NOT_ATTEMPTED. v4+ is broker-to-broker (batched): ClusterAction on the cluster,
 * else top-level CLUSTER_AUTHORIZATION_FAILED.
 */
export const addPartitionsToTxnRule: ApiRule = {
  apiKey: ApiKey.AddPartitionsToTxn,
  authorize(req, ctx) {
    const v = ctx.version;
    if (v >= 4) return requireAll(ApiKey.AddPartitionsToTxn, () => [clusterAction('ClusterAction')])(req, ctx);
    if (!can(ctx, 'transactionalId', req.v3AndBelowTransactionalId, 'Write')) {
      const code = Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
      return deny(addPartitionsV3(req, v, () => code), code);
    }
    const writable = gate(ctx, 'topic', 'Write');
    const denied = new Set((req.v3AndBelowTopics as Obj[]).map((t) => t.name as string).filter((n) => !writable(n)));
    if (denied.size === 0) return ALLOW;
    const res = addPartitionsV3(req, v, (t) => (denied.has(t) ? Errors.TOPIC_AUTHORIZATION_FAILED : Errors.OPERATION_NOT_ATTEMPTED));
    return deny(res, Errors.TOPIC_AUTHORIZATION_FAILED);
  },
};

/** AddOffsetsToTxn: Write on the transactional id, Read on the group. */
export const addOffsetsToTxnRule: ApiRule = {
  apiKey: ApiKey.AddOffsetsToTxn,
  authorize: requireAll(ApiKey.AddOffsetsToTxn, (req) => [txnWrite(req.transactionalId), groupRead(req.groupId)]),
};

/** EndTxn: Write on the transactional id. */
export const endTxnRule: ApiRule = {
  apiKey: ApiKey.EndTxn,
  authorize: requireAll(ApiKey.EndTxn, (req) => [txnWrite(req.transactionalId)]),
};

export const TXN_OFFSET_COMMIT = namedTopics(ApiKey.TxnOffsetCommit, 'Read', txnCommitRes.defaultTxnOffsetCommitResponseTopic, txnCommitRes.defaultTxnOffsetCommitResponsePartition);

/**
 * TxnOffsetCommit: Write on the transactional id, then Read on the group (either denied: every
 * partition with that code), Read on each topic.
 */
export const txnOffsetCommitRule: ApiRule = {
  apiKey: ApiKey.TxnOffsetCommit,
  authorize(req, ctx) {
    const all = !can(ctx, 'transactionalId', req.transactionalId, 'Write')
      ? Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
      : !can(ctx, 'group', req.groupId, 'Read')
        ? Errors.GROUP_AUTHORIZATION_FAILED
        : 0;
    return topicSplit(req, ctx, TXN_OFFSET_COMMIT, { all });
  },
};

const DESCRIBE_TRANSACTIONS: FlatRule = {
  apiKey: ApiKey.DescribeTransactions,
  list: 'transactionalIds',
  resList: 'transactionStates',
  resName: 'transactionalId',
  result: describeTxnRes.defaultTransactionState,
  deniedFields: { producerId: -1n, producerEpoch: -1, transactionTimeoutMs: -1, transactionStartTimeMs: -1n },
};

/**
 * DescribeTransactions: Describe on each transactional id; as Kafka, a described transaction
 * lists only the topics the principal may Describe.
 */
export const describeTransactionsRule: ApiRule = {
  apiKey: ApiKey.DescribeTransactions,
  authorize(req, ctx) {
    const describable = gate(ctx, 'topic', 'Describe');
    const finish = (res: Obj): Obj => ({
      ...res,
      transactionStates: (res.transactionStates as Obj[]).map((s) => ({ ...s, topics: (s.topics as Obj[]).filter((t) => describable(t.topic)) })),
    });
    return flatSplit(req, ctx, DESCRIBE_TRANSACTIONS, byName(ctx, 'transactionalId', 'Describe'), { finish });
  },
};

/** ListTransactions: the answer lists only transactional ids the principal may Describe. */
export const listTransactionsRule: ApiRule = {
  apiKey: ApiKey.ListTransactions,
  authorize(_req, ctx) {
    const describable = gate(ctx, 'transactionalId', 'Describe');
    return { kind: 'filter', filter: (res: Obj) => ({ ...res, transactionStates: (res.transactionStates as Obj[]).filter((s) => describable(s.transactionalId)) }) };
  },
};
