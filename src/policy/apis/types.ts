/**
 * The contract between the policy stage and the per-API rules: what one API's requests need
 * and how a (partly) denied request is answered in the broker's own shape.
 *
 * A rule never decides by itself: it asks `ctx.allowed(action)` for each action the request
 * needs (every call is recorded as a Check for audit), then says what to do:
 *  - allow: forward the original bytes;
 *  - deny: the proxy answers with `response` (the API's response body for the request's version);
 *  - split: forward `request` (the allowed parts), and `merge` the broker's answer with the
 *    denied parts' errors into one response in the original order;
 *  - filter: forward as is, and `filter` the broker's answer (listing APIs show only what the
 *    principal may Describe; authorized-operations fields are recomputed from the policy).
 */
import type { CredentialApis } from '../credential-apis.js';
import type { Action, Operation, ResourceType } from '../model.js';

export interface AuthzContext {
  /** The request's API version. */
  readonly version: number;
  /** Decides one action for the connection's principal and records the check. */
  allowed(action: Action): boolean;
  /**
   * Kafka's authorizeByResourceType: may the principal do `op` on at least one resource of
   * `type`? (InitProducerId without a transactional id needs IdempotentWrite on the cluster or
   * Write on some topic.) Recorded as a check on the name "*".
   */
  allowedOnAny(type: ResourceType, op: Operation): boolean;
  /**
   * Kafka's authorized-operations bit field (bit n set = AclOperation code n allowed) for a
   * resource, computed from the policy; not recorded as checks.
   */
  authorizedOperations(type: ResourceType, name: string): number;
  /** A topic's name for its id. Every id the rule's topicIds() returned has been looked up first. */
  topicName(id: string): string | undefined;
  /**
   * State kept across the requests of the fetch or share session this request belongs to (the
   * proxy's session tracker, src/apis/fetch-session.ts: sessions live by broker and id, whatever
   * the connection), one value per key; per connection where no tracker runs.
   */
  sessionState<T>(key: string, init: () => T): T;
  /**
   * Whether a topic is protected (the audit topic, the proxy's internal topics). The policy
   * refuses every write-like action on one; rules ask about such a topic by name, never letting
   * a cluster-wide permission (Create on the cluster) stand in for it.
   */
  isProtectedTopic(name: string): boolean;
  /** Which broker-credential APIs the configuration allows (credential-apis.ts). */
  readonly credentialApis: CredentialApis;
  /** Records `action` as refused for a built-in `reason` (no rule decides it); always false. */
  refuse(action: Action, reason: string): false;
}

export type Outcome =
  | { kind: 'allow' }
  | { kind: 'deny'; response: unknown; errorCode: number }
  | { kind: 'split'; request: unknown; merge(response: unknown): unknown; errorCode: number }
  | { kind: 'filter'; filter(response: unknown): unknown };

export interface ApiRule<Req = any, Res = any> {
  readonly apiKey: number;
  /** Topic ids the request names (Fetch v13+, DeleteTopics by id, Produce v13+, ...), resolved to names before authorize(). */
  topicIds?(req: Req, version: number): string[];
  authorize(req: Req, ctx: AuthzContext): Outcome | { kind: 'split'; request: Req; merge(response: Res): Res; errorCode: number } | { kind: 'filter'; filter(response: Res): Res };
}
