/**
 * The vocabulary of authorization, in Kafka's own terms: resource types, operations (with the
 * numeric codes Kafka uses on the wire, e.g. in authorized-operations bit fields), actions and
 * the decision record audit reads.
 */

export type ResourceType = 'topic' | 'group' | 'transactionalId' | 'cluster' | 'delegationToken';

export const RESOURCE_TYPES: readonly ResourceType[] = ['topic', 'group', 'transactionalId', 'cluster', 'delegationToken'];

/** Kafka's AclOperation names (ANY and UNKNOWN are filters, not operations). */
export type Operation =
  | 'All'
  | 'Read'
  | 'Write'
  | 'Create'
  | 'Delete'
  | 'Alter'
  | 'Describe'
  | 'ClusterAction'
  | 'DescribeConfigs'
  | 'AlterConfigs'
  | 'IdempotentWrite'
  | 'CreateTokens'
  | 'DescribeTokens';

/** AclOperation codes as Kafka encodes them (authorized-operations bit positions). */
export const OPERATION_CODES: Readonly<Record<Operation, number>> = {
  All: 2,
  Read: 3,
  Write: 4,
  Create: 5,
  Delete: 6,
  Alter: 7,
  Describe: 8,
  ClusterAction: 9,
  DescribeConfigs: 10,
  AlterConfigs: 11,
  IdempotentWrite: 12,
  CreateTokens: 13,
  DescribeTokens: 14,
};

export const OPERATIONS = Object.keys(OPERATION_CODES) as Operation[];

/** The operations each resource type supports in Kafka (what authorized-operations may list). */
export const SUPPORTED_OPERATIONS: Readonly<Record<ResourceType, readonly Operation[]>> = {
  topic: ['Read', 'Write', 'Create', 'Delete', 'Alter', 'Describe', 'DescribeConfigs', 'AlterConfigs'],
  group: ['Read', 'Delete', 'Describe', 'DescribeConfigs', 'AlterConfigs'],
  transactionalId: ['Write', 'Describe'],
  cluster: ['Create', 'Alter', 'Describe', 'ClusterAction', 'DescribeConfigs', 'AlterConfigs', 'IdempotentWrite', 'CreateTokens', 'DescribeTokens'],
  delegationToken: ['Describe'],
};

/**
 * Kafka's implied operations: an allow of one of these also allows the key
 * (Read, Write, Delete or Alter allow Describe; AlterConfigs allows DescribeConfigs).
 * Denies are never implied: denying Read does not deny Describe.
 */
export const IMPLIED_BY: Readonly<Partial<Record<Operation, readonly Operation[]>>> = {
  Describe: ['Read', 'Write', 'Delete', 'Alter'],
  DescribeConfigs: ['AlterConfigs'],
};

/**
 * Operations only an allow rule naming them grants; `All` does not include them (where Gatehouse
 * differs from Kafka). A delegation token made through the proxy belongs to the proxy's own broker
 * identity and opens the broker to its holder without policy or audit, so granting one must be
 * said in so many words. A deny of `All` still denies them.
 */
export const EXPLICIT_ONLY: ReadonlySet<Operation> = new Set<Operation>(['CreateTokens', 'DescribeTokens']);

/** The one cluster resource's name, as in Kafka ("kafka-cluster"). */
export const CLUSTER_NAME = 'kafka-cluster';

/** One thing a request needs: an operation on a named resource. */
export interface Action {
  readonly resourceType: ResourceType;
  /** The resource's name (topic names, never ids; CLUSTER_NAME for the cluster). */
  readonly name: string;
  readonly operation: Operation;
}

/** How one action was decided. */
export interface Check {
  readonly action: Action;
  readonly allowed: boolean;
  /** The deciding rule, as "role/index" (e.g. "payments-app/0"), or a built-in reason such as "default-deny" or "protected-topic". */
  readonly rule: string;
}

/**
 * What the policy stage decided about one request, for audit and logs. Stored on the request
 * with setDecision() and read with getDecision().
 */
export interface RequestDecision {
  readonly principal: string | undefined;
  readonly apiName: string;
  /** allow: forwarded as is; deny: answered by the proxy; partial: split, part forwarded and part denied; filtered: forwarded, response trimmed to what may be described. */
  readonly outcome: 'allow' | 'deny' | 'partial' | 'filtered';
  readonly checks: readonly Check[];
  /** The Kafka error code the denied parts were answered with (first one, when several). */
  readonly errorCode?: number;
}

const DECISIONS = new WeakMap<object, RequestDecision>();

export function setDecision(request: object, d: RequestDecision): void {
  DECISIONS.set(request, d);
}

/** The policy decision for an InterceptedRequest, if the policy stage ran on it. */
export function getDecision(request: object): RequestDecision | undefined {
  return DECISIONS.get(request);
}

/** Kafka error codes the policy answers with. */
export const ErrorCode = {
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_TOPIC_EXCEPTION: 17,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  INVALID_REQUEST: 42,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  OPERATION_NOT_ATTEMPTED: 55,
  SASL_AUTHENTICATION_FAILED: 58,
  DELEGATION_TOKEN_AUTHORIZATION_FAILED: 65,
  UNKNOWN_TOPIC_ID: 100,
} as const;

/** The authorization error a broker uses for a denied action on each resource type. */
export function denialCode(type: ResourceType): number {
  switch (type) {
    case 'topic':
      return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    case 'group':
      return ErrorCode.GROUP_AUTHORIZATION_FAILED;
    case 'transactionalId':
      return ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    case 'cluster':
      return ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
    case 'delegationToken':
      return ErrorCode.DELEGATION_TOKEN_AUTHORIZATION_FAILED;
  }
}
