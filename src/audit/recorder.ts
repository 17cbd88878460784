/**
 * The audit stages. Two stages, so that the record is complete whatever other stages do:
 *  - AuditIntake runs first: it stamps each request's arrival time and size, records the session
 *    as opened at its first request (with the client software named in ApiVersions), and in
 *    fail-closed mode refuses requests while their events cannot be made durable;
 *  - AuditRecorder runs last: it sees every response (the broker's and those stages made up,
 *    e.g. the identity stage's SASL answers or a policy denial) as the client will get it, and
 *    records the request: API, resources, decision, error codes, bytes, latency, and what was
 *    written (Produce: partition, record count, assigned base offset) or handed out (Fetch: the
 *    offset range per partition).
 * Session events: opened, authenticated / reauthenticated / authentication_failed, closed.
 * With a summariser (summariser.ts), a session's events are held until it authenticates (or,
 * without an identity section, does work), so that sessions that never authenticate can be
 * counted under a rate instead of recorded one by one.
 */
import { ApiKey } from '../../protocol/generated/index.js';
import type { FetchRequest } from '../../protocol/generated/fetch-request.js';
import { defaultFetchableTopicResponse, defaultFetchResponse, defaultPartitionData, type FetchResponse } from '../../protocol/generated/fetch-response.js';
import type { ProduceRequest } from '../../protocol/generated/produce-request.js';
import { defaultPartitionProduceResponse, defaultTopicProduceResponse, type ProduceResponse } from '../../protocol/generated/produce-response.js';
import type { SaslAuthenticateResponse } from '../../protocol/generated/sasl-authenticate-response.js';
import { parseOAuthBearerClientFirst, parsePlain } from '../identity/sasl-messages.js';
import { getAuthFailure, getPrincipal } from '../identity/principal.js';
import { getDecision } from '../policy/model.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import { TopicIds } from '../policy/topic-ids.js';
import { isRequest, isResponse, type InterceptedRequest, type InterceptedResponse, type Interest, type Located, type RequestDecision, type ResponseRecordsView, type Stage } from '../stage/stage.js';
import type { BatchHeaderView, PartitionRecords, RecordsField } from '../../protocol/runtime/records-view.js';
import { partitionRecords } from '../apis/records.js';
import { maskedIn } from '../masking/stage.js';
import { partitionKey, sessionAt } from '../apis/fetch-session.js';
import type { CapturePolicy } from './capture.js';
import type { HeldSession, Summariser } from './summariser.js';
import type { Chain } from './chain.js';
import {
  type AuditEvent,
  type AuditKind,
  type CapturedRecord,
  type FetchedPartition,
  type ProducedPartition,
  type RequestData,
  type ResourceRef,
} from './events.js';
import { apiFacts, apiFactsByName } from '../apis/table.js';
import { resourcesOf } from '../apis/resources.js';

/** Kafka error codes the audit stage answers with in fail-closed mode. */
export const AuditErrorCode = {
  /** Retriable: producers retry; chosen because the write could not be made durable as required. */
  NOT_ENOUGH_REPLICAS: 19,
  /** Retriable: consumers refresh metadata and fetch again. */
  KAFKA_STORAGE_ERROR: 56,
} as const;

export interface Recorder {
  /** Stamps and queues one event (chain + sink + listeners). */
  emit(kind: AuditKind, subject: string, data: unknown, time?: number): AuditEvent;
  /** fail-closed and the events that matter for a request of this session cannot be made durable now (AuditSink.accepts). */
  refusing(sessionId: string): boolean;
  /** Holds the events of sessions that may end unauthenticated and counts them under a rate; absent: every session in full. */
  readonly summariser?: Summariser | undefined;
}

/** Requests a client may send before it authenticates: they do not make a session a working one. */
const BEFORE_AUTH = new Set<number>([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);

interface SessionState {
  opened: boolean;
  openedAt: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  software: { name: string; version: string } | null;
  principal: string | null;
  /** The mechanism of the last SaslHandshake (for failure events). */
  mechanism: string | null;
  closed: boolean;
  /** sessionIdOf() for this connection, made once. */
  id: string | undefined;
  /** Recorded in full from now on: it authenticated, did work, or there is no summariser. */
  settled: boolean;
  /** Its events so far, while it may still end unauthenticated. */
  held: HeldSession | undefined;
  /** Request events it sent before it settled beyond what was held: counted on session.closed. */
  notRecorded: number;
}

interface RequestStamp {
  at: number;
  bytesIn: number;
  refused?: boolean;
}

const SESSION = Symbol('gatehouse.audit.session');
const STAMPS = new WeakMap<object, RequestStamp>();

/** Session ids are unique across instances and restarts: instance id + connection id. */
export function sessionIdOf(instance: string, conn: ConnectionInfo): string {
  return `${instance}/${conn.id}`;
}

/** sessionIdOf(), kept with the session state. */
function sessionIdFor(instance: string, conn: ConnectionInfo, s: SessionState): string {
  return (s.id ??= sessionIdOf(instance, conn));
}

function session(conn: ConnectionInfo): SessionState {
  let s = conn.attributes.get(SESSION) as SessionState | undefined;
  if (!s) {
    s = { opened: false, openedAt: conn.openedAt, requests: 0, bytesIn: 0, bytesOut: 0, software: null, principal: null, mechanism: null, closed: false, id: undefined, settled: false, held: undefined, notRecorded: 0 };
    conn.attributes.set(SESSION, s);
  }
  return s;
}

/**
 * Whether the session is recorded in full from now on: there is no summariser, it authenticated,
 * or (clients need not authenticate) it does work. What it held is recorded first, in order.
 */
function settle(recorder: Recorder, conn: ConnectionInfo, s: SessionState, work: boolean): boolean {
  if (s.settled) return true;
  const summariser = recorder.summariser;
  if (summariser && !getPrincipal(conn) && !(work && !summariser.authRequired)) return false;
  s.settled = true;
  const held = s.held;
  s.held = undefined;
  if (held) {
    s.notRecorded += held.notRecorded;
    held.release();
  }
  return true;
}

/** Records one of a session's events, or holds it while the session may still end unauthenticated. */
function record(recorder: Recorder, conn: ConnectionInfo, s: SessionState, kind: AuditKind, subject: string, data: unknown, time?: number): void {
  if (settle(recorder, conn, s, false)) {
    recorder.emit(kind, subject, data, time);
    return;
  }
  (s.held ??= recorder.summariser!.hold(conn.remoteAddress)).add(kind, subject, data, time ?? Date.now());
}

export class AuditIntake implements Stage {
  readonly name = 'audit-intake';
  readonly interest = { requests: 'all' as const };

  constructor(
    private readonly recorder: Recorder,
    private readonly instance: string,
    /** Topic names for ids (Fetch v13+), shared with the policy stage. */
    private readonly topicIds: TopicIds = new TopicIds(),
  ) {}

  onConnect(conn: ConnectionInfo): void {
    session(conn);
  }

  onRequest(req: InterceptedRequest): RequestDecision {
    const s = session(req.connection);
    STAMPS.set(req, { at: performance.now(), bytesIn: req.size + 4 });
    s.requests++;
    s.bytesIn += req.size + 4;
    if (!s.opened) {
      if (isRequest(req, ApiKey.ApiVersions) && req.header.apiVersion >= 3) {
        const b = req.body();
        s.software = { name: b.clientSoftwareName, version: b.clientSoftwareVersion };
      }
      openSession(this.recorder, this.instance, req.connection, s);
    }
    settle(this.recorder, req.connection, s, !BEFORE_AUTH.has(req.header.apiKey));
    if (isRequest(req, ApiKey.SaslHandshake)) s.mechanism = req.body().mechanism.slice(0, 40);
    if (refusedWhenFailClosed(req.header.apiName) && this.recorder.refusing(sessionIdFor(this.instance, req.connection, s))) {
      STAMPS.get(req)!.refused = true;
      if (isRequest(req, ApiKey.Produce) && req.expectsResponse) {
        const body = req.body();
        const res: ProduceResponse = {
          responses: body.topicData.map((t) => ({
            ...defaultTopicProduceResponse(),
            name: t.name,
            topicId: t.topicId,
            partitionResponses: t.partitionData.map((p) => ({
              ...defaultPartitionProduceResponse(),
              index: p.index,
              errorCode: AuditErrorCode.NOT_ENOUGH_REPLICAS,
              baseOffset: -1n,
              errorMessage: 'audit trail unavailable (fail-closed): retry later',
            })),
          })),
          throttleTimeMs: 0,
          nodeEndpoints: [],
        };
        return { respond: res };
      }
      if (isRequest(req, ApiKey.Fetch)) {
        // Every partition asked for answered with KAFKA_STORAGE_ERROR, which consumers retry
        // after a metadata refresh; no session (sessionId 0), so a fetch session starts over.
        const body = req.body();
        const res: FetchResponse = {
          ...defaultFetchResponse(),
          sessionId: 0,
          responses: body.topics.map((t) => ({
            ...defaultFetchableTopicResponse(),
            topic: t.topic,
            topicId: t.topicId,
            partitions: t.partitions.map((p) => ({ ...defaultPartitionData(), partitionIndex: p.partition, errorCode: AuditErrorCode.KAFKA_STORAGE_ERROR, highWatermark: -1n, records: null })),
          })),
        };
        return { respond: res };
      }
      // Other APIs: the connection is closed, which every client treats as retriable.
      const sessionId = sessionIdFor(this.instance, req.connection, s);
      record(this.recorder, req.connection, s, 'request', sessionId, requestRecord(req, s, sessionId, this.topicIds, STAMPS.get(req), getDecision(req), { outcome: 'refused-audit', rule: null }, [], true, 0, 0));
      return { close: 'audit trail unavailable (fail-closed): request refused' };
    }
    return undefined;
  }
}

/**
 * What fail-closed refuses while events cannot reach the audit topic: every request that writes,
 * changes state, or reads data or settings. Protocol housekeeping (ApiVersions, SASL, Metadata,
 * FindCoordinator, joining groups and their heartbeats, OffsetFetch, ListOffsets) passes, so that clients keep their connections and retry
 * the refused requests; its events wait in the spool like all others.
 */
export function refusedWhenFailClosed(apiName: string): boolean {
  const facts = apiFactsByName(apiName);
  return !facts || facts.mutates || facts.readsData;
}

function openSession(recorder: Recorder, instance: string, conn: ConnectionInfo, s: SessionState): void {
  s.opened = true;
  record(recorder, conn, s, 'session.opened', sessionIdOf(instance, conn), {
    sessionId: sessionIdOf(instance, conn),
    client: { address: conn.remoteAddress, port: conn.remotePort },
    listener: conn.listener,
    nodeId: conn.nodeId,
    tls: conn.tls
      ? {
          protocol: conn.tls.protocol,
          cipher: conn.tls.cipher,
          ...(conn.tls.peerSubject ? { peerSubject: conn.tls.peerSubject } : {}),
          ...(conn.tls.peerIssuer ? { peerIssuer: conn.tls.peerIssuer } : {}),
          ...(conn.tls.peerCertFingerprint ? { peerCertFingerprint: conn.tls.peerCertFingerprint } : {}),
        }
      : null,
    clientSoftware: s.software,
    openedAt: new Date(conn.openedAt).toISOString(),
  }, conn.openedAt);
}

/** A request's event data (its fields in this order in every event). */
function requestRecord(
  req: InterceptedRequest,
  s: SessionState,
  sessionId: string,
  topicIds: TopicIds,
  stamp: RequestStamp | undefined,
  decision: ReturnType<typeof getDecision>,
  outcome: RequestData['decision'],
  codes: number[],
  synthetic: boolean,
  bytesOut: number,
  latencyMs: number,
): RequestData {
  let resources: ResourceRef[];
  if (decision && decision.checks.length > 0) {
    resources = decision.checks.map((c) => ({ type: c.action.resourceType, name: c.action.name, operation: c.action.operation, allowed: c.allowed, rule: c.rule }));
  } else {
    try {
      const operation = apiFacts(req.header.apiKey)?.operation;
      resources = resourcesOf(req.header.apiKey, req.body(), (id) => topicIds.name(id)).map((r) => (operation ? { ...r, operation } : r));
    } catch {
      resources = [];
    }
  }
  const p = getPrincipal(req.connection);
  const { header } = req;
  const facts = apiFactsByName(header.apiName);
  return {
    sessionId,
    principal: p?.name ?? s.principal,
    api: header.apiName,
    apiKey: header.apiKey,
    apiVersion: header.apiVersion,
    correlationId: header.correlationId,
    clientId: header.clientId,
    // isMutation(), from the same facts
    category: facts?.mutates ? 'mutation' : 'query',
    operation: facts?.operation ?? null,
    resources,
    bytesIn: stamp?.bytesIn ?? req.size + 4,
    decision: outcome,
    errorCodes: codes,
    synthetic,
    bytesOut,
    latencyMs,
  };
}

/**
 * The name a failed authentication claimed (PLAIN's user name, OAUTHBEARER's authzid), never the
 * secret: for alerts per principal. Null when there is none or the message cannot be read.
 */
function claimedName(mechanism: string | null, req: InterceptedRequest): string | null {
  try {
    if (!isRequest(req, ApiKey.SaslAuthenticate)) return null;
    const { authBytes } = req.body();
    if (mechanism === 'PLAIN') return parsePlain(authBytes).username.slice(0, 200) || null;
    if (mechanism === 'OAUTHBEARER') return parseOAuthBearerClientFirst(authBytes).authzid?.slice(0, 200) || null;
  } catch {
    // malformed: nothing claimed
  }
  return null;
}

/** The rule that decided: for an allow, the first allowing check's; otherwise the first denying one's. */
function decidingRule(d: NonNullable<ReturnType<typeof getDecision>>): string | null {
  const wanted = d.outcome === 'allow' || d.outcome === 'filtered';
  return d.checks.find((c) => c.allowed === wanted)?.rule ?? d.checks[0]?.rule ?? null;
}

/** Non-zero errorCode fields anywhere in a (skimmed) response, distinct, in order. */
function errorCodes(body: unknown, out = new Set<number>(), depth = 0): Set<number> {
  if (depth > 6 || body === null || typeof body !== 'object' || Buffer.isBuffer(body)) return out;
  if (Array.isArray(body)) {
    for (const x of body) errorCodes(x, out, depth + 1);
    return out;
  }
  const o = body as Record<string, unknown>;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    const v = o[k];
    if (k === 'errorCode' && typeof v === 'number' && v !== 0) out.add(v);
    else if (typeof v === 'object') errorCodes(v, out, depth + 1);
  }
  return out;
}

export class AuditRecorder implements Stage {
  readonly name = 'audit';
  /**
   * Every answer; Fetch's as a records view when it can stay on the fast path (offsets from batch
   * headers). A Fetch naming a topic whose records are captured is held whole instead (onRequest).
   */
  readonly interest: Interest;

  constructor(
    private readonly recorder: Recorder,
    private readonly instance: string,
    private readonly capture: CapturePolicy,
    /** Topic names for ids (Fetch v13+), shared with the policy stage. */
    private readonly topicIds: TopicIds = new TopicIds(),
  ) {
    this.interest = {
      ...(capture.enabled ? { requests: new Set<number>([ApiKey.Fetch]) } : {}),
      responses: 'all',
      responseViews: new Set<number>([ApiKey.Fetch, ApiKey.ShareFetch]),
    };
  }

  /**
   * With payload capture on: a Fetch whose answer may carry a captured topic (or an id not known
   * yet) needs its records, so its answer is held whole. The answer may carry any partition of the
   * fetch session (src/apis/fetch-session.ts); without a tracked session, any incremental fetch
   * is held.
   */
  onRequest(req: InterceptedRequest): void {
    if (!isRequest(req, ApiKey.Fetch)) return;
    const body = req.skim();
    const session = sessionAt(req);
    const topics = session ? [...session.values()] : body.sessionEpoch > 0 ? null : body.topics;
    const captured = !topics || topics.some((t) => {
      const name = t.topic || this.topicName(t.topicId);
      return name === undefined || this.capture.modeFor(name) !== 'none';
    });
    if (captured) req.interceptResponse(() => undefined); // holding it is the point; onResponse records it
  }

  private topicName(id: string): string | undefined {
    return this.topicIds.name(id);
  }

  onResponse(res: InterceptedResponse): void | Promise<void> {
    const req = res.request;
    if (!this.answered(req)) return;
    // Produce and Fetch are read at the level of batch headers, in place (never joined).
    const fetchLocated = isResponse(res, ApiKey.Fetch) ? res.locate() : null;
    const body = fetchLocated ? fetchLocated.body : res.body();
    const data = this.requestData(req, res.size, res.synthetic, [...errorCodes(body)]);
    // What was written or read: never worth the client's connection if it cannot be worked out.
    // Payload capture may decompress batches: the event waits for it (the records stay valid
    // until this stage is done with the response).
    const captures: Array<Promise<void>> = [];
    try {
      if (isResponse(res, ApiKey.Produce)) data.produced = this.produced(res.request.locate(), res.body(), captures);
      if (fetchLocated && isRequest(req, ApiKey.Fetch)) data.fetched = this.fetched(req, partitionRecords(ApiKey.Fetch, fetchLocated), captures, fetchLocated);
      const masked = maskedIn(req);
      if (masked.length > 0) data.masked = masked.map((m) => ({ ...m }));
    } catch {
      // recorded without the per-partition details
    }
    const emit = (): void => {
      this.emitRequest(req, data);
      if (isResponse(res, ApiKey.SaslAuthenticate)) this.authEvent(req.connection, sessionIdOf(this.instance, req.connection), res.body(), session(req.connection), req);
    };
    if (captures.length === 0) return emit();
    return Promise.all(captures).then(emit);
  }

  /** A Fetch or ShareFetch answer that went on the fast path: recorded from its headers (no payload capture there). */
  onResponseView(view: ResponseRecordsView): void {
    const req = view.request;
    if (!this.answered(req)) return;
    const codes = new Set<number>();
    for (const code of [view.errorCode, ...view.partitions.map((p) => p.errorCode)]) if (code !== 0) codes.add(code);
    const data = this.requestData(req, view.size, false, [...codes]);
    try {
      if (isRequest(req, ApiKey.Fetch)) data.fetched = this.fetched(req, view.partitions, [], null);
    } catch {
      // recorded without the per-partition details
    }
    this.emitRequest(req, data);
  }

  /** Whether an answer is recorded here (refused requests were recorded when refused, but for Produce and Fetch). */
  private answered(req: InterceptedRequest): boolean {
    const stamp = STAMPS.get(req);
    return !(stamp?.refused && req.header.apiKey !== ApiKey.Produce && req.header.apiKey !== ApiKey.Fetch);
  }

  private requestData(req: InterceptedRequest, size: number, synthetic: boolean, codes: number[]): RequestData {
    const s = session(req.connection);
    const stamp = STAMPS.get(req);
    const bytesOut = size + 4;
    s.bytesOut += bytesOut;
    const decision = getDecision(req);
    const outcome: RequestData['decision'] = stamp?.refused
      ? { outcome: 'refused-audit', rule: null }
      : decision
        ? { outcome: decision.outcome, rule: decidingRule(decision) }
        : { outcome: 'none', rule: null };
    const latencyMs = stamp ? Math.round((performance.now() - stamp.at) * 1000) / 1000 : 0;
    const data = requestRecord(req, s, sessionIdFor(this.instance, req.connection, s), this.topicIds, stamp, decision, outcome, codes, synthetic, bytesOut, latencyMs);
    if (isRequest(req, ApiKey.ApiVersions) && req.header.apiVersion >= 3) {
      const b = req.body();
      data.clientSoftware = s.software = { name: b.clientSoftwareName, version: b.clientSoftwareVersion };
    }
    return data;
  }

  private emitRequest(req: InterceptedRequest, data: RequestData): void {
    record(this.recorder, req.connection, session(req.connection), 'request', data.sessionId, data);
  }

  onClose(conn: ConnectionInfo, reason: string): void {
    const s = session(conn);
    if (s.closed) return;
    s.closed = true;
    if (!s.opened) openSession(this.recorder, this.instance, conn, s);
    const sessionId = sessionIdOf(this.instance, conn);
    const notRecorded = s.notRecorded + (s.held?.notRecorded ?? 0);
    record(this.recorder, conn, s, 'session.closed', sessionId, {
      sessionId,
      principal: getPrincipal(conn)?.name ?? s.principal,
      reason,
      durationMs: Date.now() - conn.openedAt,
      requests: s.requests,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      clientSoftware: s.software,
      ...(notRecorded > 0 ? { eventsNotRecorded: notRecorded } : {}),
    });
    // Never authenticated: recorded in full within the rate, else counted in a summary.
    const held = s.held;
    s.held = undefined;
    held?.end();
  }

  private authEvent(conn: ConnectionInfo, sessionId: string, body: SaslAuthenticateResponse, s: SessionState, req: InterceptedRequest): void {
    const p = getPrincipal(conn);
    if (body.errorCode === 0 && p) {
      const kind = s.principal ? 'session.reauthenticated' : 'session.authenticated';
      s.principal = p.name;
      const sub = p.claims.sub;
      record(this.recorder, conn, s, kind, sessionId, {
        sessionId,
        principal: p.name,
        issuer: p.issuer,
        subject: typeof sub === 'string' ? sub : null,
        groups: [...p.groups],
        clientId: p.clientId ?? null,
        mechanism: p.mechanism,
        // A service account's secret does not expire (expiresAt Infinity).
        tokenExpiresAt: Number.isFinite(p.expiresAt) ? new Date(p.expiresAt).toISOString() : null,
      });
    } else if (body.errorCode !== 0) {
      record(this.recorder, conn, s, 'session.authentication_failed', sessionId, {
        sessionId,
        claimedPrincipal: claimedName(s.mechanism, req),
        mechanism: s.mechanism,
        errorCode: body.errorCode,
        reason: getAuthFailure(conn)?.reason ?? body.errorMessage ?? 'authentication failed', // the client got a generic message
      });
    }
  }

  /** Captures a partition's records if its topic's mode asks for it; `keep` gets them (not on failure). */
  /** Captures a partition's records if its topic's mode asks for it (only then are its bytes taken); `keep` gets them. */
  private startCapture(topic: string, located: Located<unknown> | null, field: RecordsField | null, captures: Array<Promise<void>>, keep: (c: CapturedRecord[]) => void): void {
    if (!located || !field || this.capture.modeFor(topic) === 'none') return;
    captures.push(this.capture.capture(topic, located.bytes(field)).then((c) => c && keep(c), () => undefined));
  }

  /** Produce: records per partition from the request's batch headers, offsets from the answer. */
  private produced(located: Located<ProduceRequest>, res: ProduceResponse, captures: Array<Promise<void>>): ProducedPartition[] {
    const out: ProducedPartition[] = [];
    for (const p of partitionRecords(ApiKey.Produce, located)) {
      const name = p.topic || this.topicName(p.topicId) || p.topicId;
      const tr = res.responses.find((r) => (p.topic ? r.name === p.topic : r.topicId === p.topicId));
      const pr = tr?.partitionResponses.find((x) => x.index === p.partition);
      const baseOffset = pr && pr.errorCode === 0 ? Number(pr.baseOffset) : -1;
      const records = p.batches.reduce((n, b) => n + b.recordCount, 0);
      const entry: ProducedPartition = { topic: name, partition: p.partition, records, baseOffset, errorCode: pr?.errorCode ?? -1 };
      this.startCapture(name, p.field && located, p.field, captures, (captured) => {
        entry.captured = captured.map((c) => (baseOffset >= 0 && c.offset !== undefined ? { ...c, offset: baseOffset + c.offset } : c));
      });
      out.push(entry);
    }
    return out;
  }

  /**
   * Fetch: per partition the offsets handed out, from the batch headers (read in place) and the
   * offsets the request asked from (clients skip records before their fetch offset).
   */
  private fetched(req: InterceptedRequest<typeof ApiKey.Fetch>, partitions: readonly PartitionRecords[], captures: Array<Promise<void>>, located: Located<FetchResponse> | null): FetchedPartition[] {
    // What each partition was fetched from: the fetch session's offsets (an incremental answer
    // carries partitions the request did not name), else the request's own.
    const fetchOffsets = new Map<string, bigint>();
    for (const t of req.skim().topics) for (const p of t.partitions) fetchOffsets.set(partitionKey(t.topic, t.topicId, p.partition), p.fetchOffset);
    for (const [key, p] of sessionAt(req) ?? []) fetchOffsets.set(key, p.fetchOffset);
    const out: FetchedPartition[] = [];
    for (const p of partitions) {
      const name = p.topic || this.topicName(p.topicId) || p.topicId;
      const fetchOffset = Number(fetchOffsets.get(partitionKey(p.topic, p.topicId, p.partition)) ?? -1n);
      const entry: FetchedPartition = { topic: name, partition: p.partition, fetchOffset, ...handedOut(p.batches, fetchOffset), highWatermark: Number(p.highWatermark ?? -1n), errorCode: p.errorCode };
      this.startCapture(name, p.field && located, p.field, captures, (captured) => {
        entry.captured = captured.filter((c) => c.offset === undefined || c.offset >= fetchOffset);
      });
      out.push(entry);
    }
    return out;
  }
}

/** The first and last offsets and the number of records a consumer at `fetchOffset` takes from these batches. */
export function handedOut(headers: readonly BatchHeaderView[], fetchOffset: number): { firstOffset: number | null; lastOffset: number | null; records: number } {
  let first: number | null = null;
  let last: number | null = null;
  let records = 0;
  for (const b of headers) {
    if (b.control) continue;
    const bFirst = Number(b.baseOffset);
    const bLast = bFirst + b.lastOffsetDelta;
    if (bLast < fetchOffset) continue;
    first ??= Math.max(bFirst, fetchOffset);
    last = bLast;
    records += b.recordCount - Math.max(0, fetchOffset - bFirst);
  }
  return { firstOffset: first, lastOffset: last, records };
}
