import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../../protocol/generated/index.js';
import * as txnCommitReq from '../../../protocol/generated/txn-offset-commit-request.js';
import * as describeTxnRes from '../../../protocol/generated/describe-transactions-response.js';
import * as listTxnRes from '../../../protocol/generated/list-transactions-response.js';
import { ErrorCode } from '../model.js';
import { TXN_OFFSET_COMMIT } from './transactions.js';
import { allowOnly, denyOnly, flatRuleCases, run, topicCodes, topicRuleCases, topicsFor, versions, wholeRuleCases } from './test-kit.js';

type Obj = Record<string, any>;
const X = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
const T = ErrorCode.TOPIC_AUTHORIZATION_FAILED;

describe('InitProducerId', () => {
  it.each(versions(ApiKey.InitProducerId))('v%i: a transactional id needs Write on it', (v) => {
    expect(run(ApiKey.InitProducerId, v, { transactionalId: 'tx' }).asked).toEqual(['Write transactionalId:tx']);
    const r = run(ApiKey.InitProducerId, v, { transactionalId: 'tx' }, { decide: denyOnly('Write transactionalId:tx') });
    expect(r.outcome.kind).toBe('deny');
    expect(r.response!.errorCode).toBe(X);
    expect(r.response!.producerId).toBe(-1n);
  });
  it.each(versions(ApiKey.InitProducerId))('v%i: idempotent: IdempotentWrite on the cluster, or Write on any topic', (v) => {
    expect(run(ApiKey.InitProducerId, v, { transactionalId: null }, { decide: allowOnly('IdempotentWrite cluster:kafka-cluster') }).outcome.kind).toBe('allow');
    const any = run(ApiKey.InitProducerId, v, { transactionalId: null }, { decide: allowOnly('Write topic:*') });
    expect(any.outcome.kind).toBe('allow');
    expect(any.asked).toEqual(['IdempotentWrite cluster:kafka-cluster', 'Write topic:*']);
    const none = run(ApiKey.InitProducerId, v, { transactionalId: null }, { decide: allowOnly() });
    expect(none.response!.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  });
});

describe('AddPartitionsToTxn', () => {
  const v03 = versions(ApiKey.AddPartitionsToTxn, 0, 3);
  const fields = { v3AndBelowTransactionalId: 'tx', v3AndBelowTopics: [{ name: 'a', partitions: [0, 1] }, { name: 'b', partitions: [0] }] };
  const codes = (res: Obj) => (res.resultsByTopicV3AndBelow as Obj[]).map((t) => [t.name, (t.resultsByPartition as Obj[]).map((p) => p.partitionErrorCode)]);
  it.each(v03)('v%i: Write on the transactional id and each topic → allow', (v) => {
    const r = run(ApiKey.AddPartitionsToTxn, v, fields);
    expect(r.outcome.kind).toBe('allow');
    expect(r.asked).toEqual(['Write transactionalId:tx', 'Write topic:a', 'Write topic:b']);
  });
  it.each(v03)('v%i: transactional id denied → every partition TRANSACTIONAL_ID_AUTHORIZATION_FAILED', (v) => {
    const r = run(ApiKey.AddPartitionsToTxn, v, fields, { decide: denyOnly('Write transactionalId:tx') });
    expect(codes(r.response!)).toEqual([
      ['a', [X, X]],
      ['b', [X]],
    ]);
  });
  it.each(v03)('v%i: a denied topic → nothing forwarded: TOPIC_AUTHORIZATION_FAILED there, OPERATION_NOT_ATTEMPTED elsewhere', (v) => {
    const r = run(ApiKey.AddPartitionsToTxn, v, fields, { decide: denyOnly('Write topic:b') });
    expect(r.outcome.kind).toBe('deny');
    expect(codes(r.response!)).toEqual([
      ['a', [ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.OPERATION_NOT_ATTEMPTED]],
      ['b', [T]],
    ]);
  });
  // v4+ is the brokers' batched verification
  wholeRuleCases(ApiKey.AddPartitionsToTxn, ['ClusterAction cluster:kafka-cluster'], ErrorCode.CLUSTER_AUTHORIZATION_FAILED, versions(ApiKey.AddPartitionsToTxn, 4));
});

wholeRuleCases(ApiKey.AddOffsetsToTxn, ['Write transactionalId:tx', 'Read group:g'], X, versions(ApiKey.AddOffsetsToTxn), { fields: () => ({ transactionalId: 'tx', groupId: 'g' }) });
describe('AddOffsetsToTxn group', () => {
  it.each(versions(ApiKey.AddOffsetsToTxn))('v%i: group denied → GROUP_AUTHORIZATION_FAILED', (v) => {
    expect(run(ApiKey.AddOffsetsToTxn, v, { transactionalId: 'tx', groupId: 'g' }, { decide: denyOnly('Read group:g') }).response!.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
  });
});
wholeRuleCases(ApiKey.EndTxn, ['Write transactionalId:tx'], X, versions(ApiKey.EndTxn), { fields: () => ({ transactionalId: 'tx' }) });

const txnCommit = {
  rule: TXN_OFFSET_COMMIT,
  topic: txnCommitReq.defaultTxnOffsetCommitRequestTopic,
  partition: txnCommitReq.defaultTxnOffsetCommitRequestPartition,
  fields: () => ({ transactionalId: 'tx', groupId: 'g' }),
  before: () => ['Write transactionalId:tx', 'Read group:g'],
};
topicRuleCases('TxnOffsetCommit', txnCommit, versions(ApiKey.TxnOffsetCommit));
describe('TxnOffsetCommit whole denials', () => {
  it.each(versions(ApiKey.TxnOffsetCommit))('v%i: transactional id, then group, answered on every partition', (v) => {
    const topicData = topicsFor(txnCommit, v, ['a']);
    const tx = run(ApiKey.TxnOffsetCommit, v, { transactionalId: 'tx', groupId: 'g', topics: topicData }, { decide: denyOnly('Write transactionalId:tx') });
    expect(topicCodes(TXN_OFFSET_COMMIT, tx.response!, v)).toEqual([['a', [X, X]]]);
    const g = ErrorCode.GROUP_AUTHORIZATION_FAILED;
    const grp = run(ApiKey.TxnOffsetCommit, v, { transactionalId: 'tx', groupId: 'g', topics: topicData }, { decide: denyOnly('Read group:g') });
    expect(topicCodes(TXN_OFFSET_COMMIT, grp.response!, v)).toEqual([['a', [g, g]]]);
  });
});

flatRuleCases(
  'DescribeTransactions',
  {
    apiKey: ApiKey.DescribeTransactions,
    list: 'transactionalIds',
    item: (n) => n,
    resList: 'transactionStates',
    resName: 'transactionalId',
    result: describeTxnRes.defaultTransactionState,
    action: (n) => `Describe transactionalId:${n}`,
    code: X,
    allowed: 'filter',
  },
  versions(ApiKey.DescribeTransactions),
);
describe('DescribeTransactions topics', () => {
  it('a described transaction lists only describable topics', () => {
    const r = run(ApiKey.DescribeTransactions, 0, { transactionalIds: ['tx'] }, {
      decide: denyOnly('Describe topic:b'),
      broker: () => ({
        ...describeTxnRes.defaultDescribeTransactionsResponse(),
        transactionStates: [{ ...describeTxnRes.defaultTransactionState(), transactionalId: 'tx', topics: ['a', 'b'].map((topic) => ({ topic, partitions: [0] })) }],
      }),
    });
    expect((r.merged!.transactionStates[0].topics as Obj[]).map((t) => t.topic)).toEqual(['a']);
  });
});

describe('ListTransactions', () => {
  it.each(versions(ApiKey.ListTransactions))('v%i: lists only describable transactional ids', (v) => {
    const r = run(ApiKey.ListTransactions, v, {}, {
      decide: allowOnly('Describe transactionalId:mine'),
      broker: () => ({ ...listTxnRes.defaultListTransactionsResponse(), transactionStates: ['mine', 'theirs'].map((transactionalId) => ({ ...listTxnRes.defaultTransactionState(), transactionalId })) }),
    });
    expect(r.outcome.kind).toBe('filter');
    expect((r.merged!.transactionStates as Obj[]).map((s) => s.transactionalId)).toEqual(['mine']);
  });
});
