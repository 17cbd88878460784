/**
 * Topic administration and configs: CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, AlterConfigs, IncrementalAlterConfigs. Each is per item: denied topics or
 * resources are answered by the proxy, the rest go to the broker.
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import { ZERO_UUID } from '../../../protocol/runtime/index.js';
import * as createTopicsRes from '../../../protocol/generated/create-topics-response.js';
import * as deleteTopicsRes from '../../../protocol/generated/delete-topics-response.js';
import * as createPartitionsRes from '../../../protocol/generated/create-partitions-response.js';
import * as describeConfigsRes from '../../../protocol/generated/describe-configs-response.js';
import * as alterConfigsRes from '../../../protocol/generated/alter-configs-response.js';
import * as incrementalRes from '../../../protocol/generated/incremental-alter-configs-response.js';
import { CLUSTER_NAME, denialCode, type Operation, type ResourceType } from '../model.js';
import { ALLOW, Errors, byName, can, flatSplit, gate, onCluster, type FlatRule } from './helpers.js';
import type { ApiRule, AuthzContext } from './types.js';

type Obj = Record<string, any>;

const CREATE_TOPICS: FlatRule = { apiKey: ApiKey.CreateTopics, list: 'topics', name: 'name', resList: 'topics', resName: 'name', result: createTopicsRes.defaultCreatableTopicResult };

/**
 * CreateTopics: Create on the cluster covers every topic; otherwise Create on each topic. A
 * protected topic (the audit topic, the proxy's internal ones) is asked about on the topic
 * whatever the cluster allows, and the policy refuses it: a cluster-wide Create never lets a
 * client make one first, with configs of its choosing. As Kafka, a created topic's configs (v5+)
 * are shown only with DescribeConfigs on it, else topicConfigErrorCode TOPIC_AUTHORIZATION_FAILED
 * and no configs.
 */
export const createTopicsRule: ApiRule = {
  apiKey: ApiKey.CreateTopics,
  authorize(req, ctx) {
    const finish = ctx.version >= 5 ? hideConfigs(ctx) : undefined;
    const onTopic = byName(ctx, 'topic', 'Create');
    const guarded = (req.topics as Obj[]).some((t) => ctx.isProtectedTopic(t.name));
    if (onCluster(ctx, 'Create')) {
      if (!guarded) return finish ? { kind: 'filter', filter: finish } : ALLOW;
      return flatSplit(req, ctx, CREATE_TOPICS, (name) => (ctx.isProtectedTopic(name) ? onTopic(name) : 0), { finish });
    }
    return flatSplit(req, ctx, CREATE_TOPICS, onTopic, { finish });
  },
};

function hideConfigs(ctx: AuthzContext): (res: Obj) => Obj {
  const describable = gate(ctx, 'topic', 'DescribeConfigs');
  return (res) => ({
    ...res,
    topics: (res.topics as Obj[]).map((t) =>
      t.errorCode !== 0 || describable(t.name) ? t : { ...t, topicConfigErrorCode: Errors.TOPIC_AUTHORIZATION_FAILED, configs: [] },
    ),
  });
}

const DELETE_TOPICS_BY_NAME: FlatRule = { apiKey: ApiKey.DeleteTopics, list: 'topicNames', resList: 'responses', resName: 'name', result: deleteTopicsRes.defaultDeletableTopicResult };
const DELETE_TOPICS: FlatRule = { ...DELETE_TOPICS_BY_NAME, list: 'topics', name: 'name' };

/** DeleteTopics: Delete on each topic; v6+ names a topic or its id (an unknown id: UNKNOWN_TOPIC_ID). */
export const deleteTopicsRule: ApiRule = {
  apiKey: ApiKey.DeleteTopics,
  topicIds: (req, v) => (v >= 6 ? (req.topics as Obj[]).filter((t) => t.name === null).map((t) => t.topicId as string) : []),
  authorize(req, ctx) {
    const check = byName(ctx, 'topic', 'Delete');
    if (ctx.version < 6) return flatSplit(req, ctx, DELETE_TOPICS_BY_NAME, check);
    const byId = new Set((req.topics as Obj[]).filter((t) => t.name === null).map((t) => t.topicId as string));
    return flatSplit(
      req,
      ctx,
      DELETE_TOPICS,
      (name, t) => {
        const n = name ?? ctx.topicName(t.topicId);
        return n === undefined ? Errors.UNKNOWN_TOPIC_ID : check(n);
      },
      {
        key: (t) => (t.name === null ? `id:${t.topicId}` : `name:${t.name}`),
        resultKey: (r) => (byId.has(r.topicId) ? `id:${r.topicId}` : `name:${r.name}`),
        denied: (e, t) => {
          e.topicId = t.topicId ?? ZERO_UUID;
          e.name = t.name ?? null;
        },
      },
    );
  },
};

const CREATE_PARTITIONS: FlatRule = { apiKey: ApiKey.CreatePartitions, list: 'topics', name: 'name', resList: 'results', resName: 'name', result: createPartitionsRes.defaultCreatePartitionsTopicResult };

/** CreatePartitions: Alter on each topic. */
export const createPartitionsRule: ApiRule = {
  apiKey: ApiKey.CreatePartitions,
  authorize: (req, ctx) => flatSplit(req, ctx, CREATE_PARTITIONS, byName(ctx, 'topic', 'Alter')),
};

/**
 * Kafka's ConfigResource types and what authorizes them: TOPIC (2) on the topic, GROUP (32) on
 * the group, BROKER (4), BROKER_LOGGER (8) and CLIENT_METRICS (16) on the cluster.
 */
const CONFIG_RESOURCES: Readonly<Record<number, ResourceType>> = { 2: 'topic', 4: 'cluster', 8: 'cluster', 16: 'cluster', 32: 'group' };

/** The code a config resource is answered with: 0, its type's *_AUTHORIZATION_FAILED, or INVALID_REQUEST for an unknown type. */
export function configResourceCheck(ctx: AuthzContext, op: Operation): (resourceType: number, resourceName: string) => number {
  return (resourceType, resourceName) => {
    const type = CONFIG_RESOURCES[resourceType];
    if (type === undefined) return Errors.INVALID_REQUEST;
    return can(ctx, type, type === 'cluster' ? CLUSTER_NAME : resourceName, op) ? 0 : denialCode(type);
  };
}

/** A per-config-resource request (resources keyed by type and name; answers carry both). */
function configsRule(apiKey: number, op: Operation, resList: string, result: () => Obj): ApiRule {
  const rule: FlatRule = { apiKey, list: 'resources', name: 'resourceName', resList, resName: 'resourceName', result };
  const key = (r: Obj): string => `${r.resourceType}:${r.resourceName}`;
  return {
    apiKey,
    authorize(req, ctx) {
      const check = configResourceCheck(ctx, op);
      return flatSplit(req, ctx, rule, (name, r) => check(r.resourceType, name), {
        key,
        resultKey: key,
        denied: (e, r) => {
          e.resourceType = r.resourceType;
          e.errorMessage = null;
        },
      });
    },
  };
}

/** DescribeConfigs: DescribeConfigs on each resource (the cluster for broker, broker-logger and client-metrics resources). */
export const describeConfigsRule = configsRule(ApiKey.DescribeConfigs, 'DescribeConfigs', 'results', describeConfigsRes.defaultDescribeConfigsResult);
/** AlterConfigs: AlterConfigs on each resource. */
export const alterConfigsRule = configsRule(ApiKey.AlterConfigs, 'AlterConfigs', 'responses', alterConfigsRes.defaultAlterConfigsResourceResponse);
/** IncrementalAlterConfigs: AlterConfigs on each resource. */
export const incrementalAlterConfigsRule = configsRule(ApiKey.IncrementalAlterConfigs, 'AlterConfigs', 'responses', incrementalRes.defaultAlterConfigsResourceResponse);
