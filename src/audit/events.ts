/**
 * The audit event: a CloudEvents 1.0 envelope (structured JSON mode) with JSON data, versioned
 * by `type` (…​.v1) and `dataschema`. The JSON Schema is schemas/audit-event.v1.json; the chain
 * attributes (CloudEvents extensions) make each proxy instance's events tamper-evident (chain.ts).
 * Events of one client connection (session) share `subject` = session id, which is also the
 * Kafka message key, so a session stays ordered in one partition.
 */
import { apiFactsByName } from '../apis/table.js';

export const SPEC_VERSION = '1.0';
export const DATA_SCHEMA = 'https://gatehouse.dev/schemas/audit-event.v1.json';
export const TYPE_PREFIX = 'dev.gatehouse.audit.';

export type AuditKind =
  | 'session.opened'
  | 'session.authenticated'
  | 'session.reauthenticated'
  | 'session.authentication_failed'
  | 'request'
  | 'session.closed'
  | 'sessions.summary'
  | 'checkpoint';

export const AUDIT_KINDS: readonly AuditKind[] = [
  'session.opened',
  'session.authenticated',
  'session.reauthenticated',
  'session.authentication_failed',
  'request',
  'session.closed',
  'sessions.summary',
  'checkpoint',
];

export function eventType(kind: AuditKind): string {
  return `${TYPE_PREFIX}${kind}.v1`;
}

const KIND_OF_TYPE: ReadonlyMap<string, AuditKind> = new Map(AUDIT_KINDS.map((k) => [eventType(k), k]));

/** The kind of an event from its type, or undefined for a foreign type. */
export function kindOf(type: string): AuditKind | undefined {
  return KIND_OF_TYPE.get(type);
}

export interface SessionOpenedData {
  sessionId: string;
  client: { address: string; port: number };
  listener: string;
  nodeId: number;
  /** TLS details of the client connection; null on a plaintext listener. */
  tls: { protocol: string; cipher: string; peerSubject?: string; peerIssuer?: string; peerCertFingerprint?: string } | null;
  /** From the client's ApiVersions request (v3+), when it sent one first. */
  clientSoftware: { name: string; version: string } | null;
  openedAt: string;
}

export interface AuthenticatedData {
  sessionId: string;
  principal: string;
  issuer: string;
  /** The token's `sub`. */
  subject: string | null;
  groups: string[];
  clientId: string | null;
  mechanism: string;
  /** null when the credential does not expire (a local service account). */
  tokenExpiresAt: string | null;
}

export interface AuthenticationFailedData {
  sessionId: string;
  /** The name the client claimed (PLAIN user name, OAUTHBEARER authzid); never the token or password. */
  claimedPrincipal: string | null;
  mechanism: string | null;
  errorCode: number;
  reason: string;
}

export interface ResourceRef {
  type: string;
  name: string;
  operation?: string;
  allowed?: boolean;
  rule?: string;
}

export interface CapturedRecord {
  offset?: number;
  key: string | null;
  headers: Array<{ key: string; value: string | null }>;
  /** Only with capture mode `full`. */
  value?: string | null;
}

export interface ProducedPartition {
  topic: string;
  partition: number;
  records: number;
  /** The offset the broker assigned to the first record; -1 on error. */
  baseOffset: number;
  errorCode: number;
  captured?: CapturedRecord[];
}

export interface FetchedPartition {
  topic: string;
  partition: number;
  /** The offset the client asked for. */
  fetchOffset: number;
  /** First and last offset handed out (null when the response held no records). */
  firstOffset: number | null;
  lastOffset: number | null;
  records: number;
  highWatermark: number;
  errorCode: number;
  captured?: CapturedRecord[];
}

export interface RequestData {
  sessionId: string;
  principal: string | null;
  api: string;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Read (Fetch, Describe…) or mutation (Produce, create/delete/alter…), for webhooks and alerts. */
  category: 'query' | 'mutation';
  operation: string | null;
  resources: ResourceRef[];
  /** The policy decision, if the policy stage ran; 'none' without a policy; 'refused-audit' when fail-closed audit refused it. */
  decision: { outcome: string; rule: string | null };
  /** Non-zero error codes of the response, distinct, in order of appearance. */
  errorCodes: number[];
  /** Answered by the proxy itself (the broker never saw it). */
  synthetic: boolean;
  bytesIn: number;
  bytesOut: number;
  latencyMs: number;
  produced?: ProducedPartition[];
  fetched?: FetchedPartition[];
  /** Fetch: what masking rules did to the answer, per partition and rule (counts, never values). */
  masked?: Array<{ topic: string; partition: number; rule: string; part: string; fields: number; withheld: number }>;
  /** ApiVersions v3+: the client software it names (clients authenticating with SASL send v0 first, so session.opened may not have it). */
  clientSoftware?: { name: string; version: string };
}

export interface SessionClosedData {
  sessionId: string;
  principal: string | null;
  reason: string;
  durationMs: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  clientSoftware: { name: string; version: string } | null;
  /** Requests before authentication beyond what a session holds (summariser.ts HOLD_EVENTS): counted here, not recorded one by one. Absent when 0. */
  eventsNotRecorded?: number;
}

/**
 * Unauthenticated sessions of one client address in one window that were counted rather than
 * recorded in full (summariser.ts). Count maps hold at most 20 keys; the rest under `(other)`.
 */
export interface SessionsSummaryData {
  /** The client address, or `*` for addresses beyond audit.unauthenticated.addresses in this window. */
  address: string;
  windowStart: string;
  windowEnd: string;
  /** Unauthenticated sessions of this address recorded in full in this window (before these were counted). */
  recordedInFull: number;
  /** Sessions counted here. */
  connections: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  failedLogins: { count: number; byReason: Record<string, number>; byClaimedPrincipal: Record<string, number> };
  /** Why the connections ended (session.closed reasons), with counts. */
  closeReasons: Record<string, number>;
  firstOpenedAt: string;
  lastClosedAt: string;
}

export interface CheckpointData {
  instance: string;
  /** The sequence number and hash of the last event before this checkpoint. */
  lastSeq: number;
  lastHash: string;
  /** Events since the previous checkpoint. */
  events: number;
  /** Events dropped since the instance started (fail-open with a full spool): the chain shows them as gaps. */
  dropped: number;
}

export type AuditData = SessionOpenedData | AuthenticatedData | AuthenticationFailedData | RequestData | SessionClosedData | SessionsSummaryData | CheckpointData;

/** An audit event as written to the topic (structured-mode CloudEvent). */
export interface AuditEvent<D = AuditData> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  subject: string;
  datacontenttype: 'application/json';
  dataschema: string;
  /** Extension: the proxy instance whose chain this event is in. */
  instance: string;
  /** Extension: position in the instance's chain, from 0. */
  seq: number;
  /** Extension: SHA-256 (hex) of the previous event in the chain; 64 zeros for seq 0. */
  prevhash: string;
  /** Extension: SHA-256 (hex) of this event (canonical JSON without `hash`), chained. */
  hash: string;
  data: D;
}

/** An event before the chain stamped it. */
export interface UnchainedEvent<D = AuditData> {
  kind: AuditKind;
  subject: string;
  time?: number;
  data: D;
}

/** APIs that change state: their events are "mutations" for webhooks and alerts (src/apis/table.ts). */
export function isMutation(apiName: string): boolean {
  return apiFactsByName(apiName)?.mutates ?? false;
}
