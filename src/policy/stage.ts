/**
 * The policy stage: every request after authentication is checked against the policy before it
 * may reach the broker. The per-API rules (./apis) say which resources a request names and
 * which operation each needs; this stage supplies the decisions, applies the outcome (forward,
 * answer, split, filter) and records what was decided for audit.
 */
import type { Logger } from 'pino';
import { ApiKey, type KnownApiKey, type RequestOf, type ResponseOf } from '../../protocol/generated/index.js';
import { getPrincipal } from '../identity/principal.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import type { InterceptedRequest, RequestDecision as StageDecision, Stage } from '../stage/stage.js';
import type { Subject, SubjectPolicy } from './authorizer.js';
import { CREDENTIAL_APIS_OFF, type CredentialApis } from './credential-apis.js';
import { DecisionCache } from './decision-cache.js';
import { sessionOf } from '../apis/fetch-session.js';
import { genericDenial, ruleFor } from './apis/index.js';
import type { AuthzContext, Outcome } from './apis/types.js';
import { ErrorCode, setDecision, type Action, type Check, type RequestDecision } from './model.js';
import type { PolicySource } from './store.js';
import { policyDecisions } from './metrics.js';
import { TopicIds } from './topic-ids.js';

/**
 * The rules are written for every API at once and build plain bodies (see apis/types.ts): what
 * they hand back is the body of the request's own API, typed here as any API's.
 */
type AnyRequest = RequestOf<KnownApiKey>;
type AnyResponse = ResponseOf<KnownApiKey>;

/** Requests the identity stage owns; they are never subject to policy. */
const UNGATED: ReadonlySet<number> = new Set([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);

/**
 * Requests authorized from a skim: the body's structure, bytes and records fields left empty and
 * nothing joined. A Fetch request has no such fields, so its skim is the whole body, enough to
 * split it too; a Produce the policy must change (some topics denied) is decoded whole, to
 * forward the allowed records.
 */
const SKIMMED: ReadonlyMap<number, 'complete' | 'records-empty'> = new Map([
  [ApiKey.Produce, 'records-empty'],
  [ApiKey.Fetch, 'complete'],
]);

/** The subject of a connection with no identity stage in front (Kafka's ANONYMOUS). */
export const ANONYMOUS: Subject = { name: 'ANONYMOUS', groups: [], claims: {} };

export interface PolicyStageOptions {
  source: PolicySource;
  /** Shared with audit; learned from Metadata answers by a TopicIdsStage in front. */
  topicIds?: TopicIds;
  log?: Logger;
  /** Decisions shared by the connections of a subject (decision-cache.ts). Default: a cache with the default limits; null: none, every decision is evaluated. */
  decisions?: DecisionCache | null;
  /** The broker-credential APIs the configuration allows; default: none. */
  credentialApis?: CredentialApis;
}

interface ConnectionPolicy {
  generation: number;
  authenticatedAt: number;
  subject: SubjectPolicy;
  state: Map<string, unknown>;
}

const CONN = Symbol('gatehouse.policy.connection');

export class PolicyStage implements Stage {
  readonly name = 'policy';
  readonly interest = { requests: 'all' as const };
  readonly topicIds: TopicIds;
  private readonly source: PolicySource;
  private readonly log: Logger | undefined;
  private readonly decisions: DecisionCache | null;
  private readonly credentialApis: CredentialApis;

  constructor(opts: PolicyStageOptions) {
    this.source = opts.source;
    this.credentialApis = opts.credentialApis ?? CREDENTIAL_APIS_OFF;
    this.topicIds = opts.topicIds ?? new TopicIds();
    this.log = opts.log?.child({ stage: 'policy' });
    this.decisions = opts.decisions === undefined ? new DecisionCache() : opts.decisions;
  }

  /** The connection's view of the policy, rebuilt when the policy reloads or the client re-authenticates. */
  private connectionPolicy(conn: ConnectionInfo): ConnectionPolicy {
    const principal = getPrincipal(conn);
    const generation = this.source.generation;
    const authenticatedAt = principal?.authenticatedAt ?? 0;
    let cp = conn.attributes.get(CONN) as ConnectionPolicy | undefined;
    if (!cp || cp.generation !== generation || cp.authenticatedAt !== authenticatedAt) {
      const subject: Subject = principal
        ? { name: principal.name, source: principal.source, qualifiedName: principal.qualifiedName, groups: principal.groups, claims: principal.claims }
        : ANONYMOUS;
      const cached = this.decisions ? { cache: this.decisions, generation } : undefined;
      cp = { generation, authenticatedAt, subject: this.source.policy.forSubject(subject, cached), state: cp?.state ?? new Map() };
      conn.attributes.set(CONN, cp);
    }
    return cp;
  }

  onRequest(req: InterceptedRequest): StageDecision | Promise<StageDecision> {
    const { apiKey, apiVersion } = req.header;
    if (UNGATED.has(apiKey)) return;
    const cp = this.connectionPolicy(req.connection);
    const rule = ruleFor(apiKey);
    if (!rule) {
      const check: Check = { action: { resourceType: 'cluster', name: 'kafka-cluster', operation: 'All' }, allowed: false, rule: 'no-rule-for-api' };
      return this.apply(req, cp, { kind: 'deny', response: genericDenial(apiKey, apiVersion, ErrorCode.CLUSTER_AUTHORIZATION_FAILED), errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED }, [check]);
    }
    const skimmed = SKIMMED.get(apiKey);
    const body = skimmed ? req.skim() : req.body();
    const ids = rule.topicIds?.(body, apiVersion) ?? [];
    const unknown = ids.filter((id) => this.topicIds.name(id) === undefined);
    if (unknown.length > 0) {
      // Decided under the policy in force once the ids are known (it may have been reloaded meanwhile).
      return this.topicIds.resolve(unknown).then(() => this.decide(req, this.connectionPolicy(req.connection), rule.authorize.bind(rule), body, skimmed === 'records-empty'));
    }
    return this.decide(req, cp, rule.authorize.bind(rule), body, skimmed === 'records-empty');
  }

  /** `partial`: `body` is a skim without its records; a request the policy changes is decided again on the whole body. */
  private decide(req: InterceptedRequest, cp: ConnectionPolicy, authorize: (body: unknown, ctx: AuthzContext) => Outcome, body: unknown, partial = false): StageDecision {
    const checks: Check[] = [];
    const subject = cp.subject;
    const ctx: AuthzContext = {
      version: req.header.apiVersion,
      allowed: (action: Action) => {
        const c = subject.decide(action);
        checks.push(c);
        return c.allowed;
      },
      allowedOnAny: (type, op) => {
        const c = subject.decideOnAny(type, op);
        checks.push(c);
        return c.allowed;
      },
      authorizedOperations: (type, name) => subject.authorizedOperations(type, name),
      topicName: (id) => this.topicIds.name(id),
      sessionState: <T>(key: string, init: () => T): T => {
        const session = sessionOf(req);
        if (session) return session.state(key, init);
        let v = cp.state.get(key) as T | undefined;
        if (v === undefined) {
          v = init();
          cp.state.set(key, v);
        }
        return v;
      },
      isProtectedTopic: (name) => subject.policy.isProtectedTopic(name),
      credentialApis: this.credentialApis,
      refuse: (action, reason) => {
        checks.push({ action, allowed: false, rule: reason });
        return false;
      },
    };
    const outcome = authorize(body, ctx);
    if (partial && outcome.kind !== 'allow' && outcome.kind !== 'deny') return this.decide(req, cp, authorize, req.body());
    return this.apply(req, cp, outcome, checks);
  }

  private apply(req: InterceptedRequest, cp: ConnectionPolicy, outcome: Outcome, checks: Check[]): StageDecision {
    const principal = cp.subject.subject.name;
    const base = { principal, apiName: req.header.apiName, checks };
    policyDecisions.inc({ api: req.header.apiName, outcome: outcome.kind === 'split' ? (checks.some((c) => !c.allowed) ? 'partial' : 'allow') : outcome.kind === 'filter' ? 'filtered' : outcome.kind });
    if (outcome.kind === 'allow') {
      setDecision(req, { ...base, outcome: 'allow' });
      return;
    }
    if (outcome.kind === 'filter') {
      setDecision(req, { ...base, outcome: 'filtered' });
      req.interceptResponse((res) => res.setBody(outcome.filter(res.body()) as AnyResponse));
      return;
    }
    if (outcome.kind === 'split' && !checks.some((c) => !c.allowed)) {
      // Nothing denied; the rule only adjusted the request (Metadata without the right to auto-create).
      setDecision(req, { ...base, outcome: 'allow' });
      req.setBody(outcome.request as AnyRequest);
      if (req.expectsResponse) req.interceptResponse((res) => res.setBody(outcome.merge(res.body()) as AnyResponse));
      return;
    }
    const decision: RequestDecision = { ...base, outcome: outcome.kind === 'deny' ? 'deny' : 'partial', errorCode: outcome.errorCode };
    setDecision(req, decision);
    this.logDenial(req, decision);
    if (!req.expectsResponse) {
      // Produce with acks=0 has no answer to carry an error: like the broker, close the connection.
      return { close: `Produce (acks=0) denied: ${describeDenied(checks)}` };
    }
    if (outcome.kind === 'deny') return { respond: outcome.response };
    req.setBody(outcome.request as AnyRequest);
    req.interceptResponse((res) => res.setBody(outcome.merge(res.body()) as AnyResponse));
    return;
  }

  private logDenial(req: InterceptedRequest, d: RequestDecision): void {
    this.log?.info(
      { conn: req.connection.id, principal: d.principal, api: d.apiName, outcome: d.outcome, errorCode: d.errorCode, denied: describeDenied(d.checks) },
      'request denied',
    );
  }

}

function describeDenied(checks: readonly Check[]): string {
  const denied = checks.filter((c) => !c.allowed);
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const c of denied) {
    const s = `${c.action.operation} ${c.action.resourceType}:${c.action.name} (${c.rule})`;
    if (!seen.has(s)) {
      seen.add(s);
      parts.push(s);
    }
  }
  return parts.slice(0, 10).join(', ') + (parts.length > 10 ? `, … ${parts.length - 10} more` : '');
}
