/**
 * The interface identity, policy, masking and audit plug into. The proxy core knows nothing of
 * what a stage does: it asks each stage, in order, about the requests and responses the stage
 * declared interest in, and forwards everything else as its original bytes.
 *
 * A stage may
 *  - let a request pass (return nothing),
 *  - change it (`req.setBody(...)`; the proxy re-encodes only what was changed),
 *  - answer it itself (`return { respond: body }`; the request never reaches the broker),
 *  - or close the connection (`return { close: 'reason' }`);
 * and may read or replace the response (`res.setBody(...)`).
 * Responses reach the client in request order whatever the stages do. A stage that throws costs
 * the connection it was working for, never the process.
 */
import type { KnownApiKey, RequestOf, ResponseOf } from '../../protocol/generated/index.js';
import type { PartitionRecords, RecordsField, RecordsHeaders } from '../../protocol/runtime/records-view.js';
import type { ConnectionInfo } from './connection-info.js';

export interface RequestHeaderInfo {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** The API's name, e.g. "Metadata". */
  readonly apiName: string;
}

/**
 * A request of API key K (any API when K is left out). Its body has the generated type of that
 * API's request: narrow a request with `isRequest(req, ApiKey.X)` and read it without casts.
 */
export interface InterceptedRequest<K extends KnownApiKey = KnownApiKey> {
  readonly header: RequestHeaderInfo;
  readonly connection: ConnectionInfo;
  /**
   * The request payload as received (header + body, no size prefix), joined into one buffer on
   * first use if it arrived in several reads. Do not mutate.
   */
  readonly frame: Buffer;
  /** Payload bytes (as `frame.length`, without joining anything). */
  readonly size: number;
  /**
   * The body, decoded on first call and cached. Byte fields (records included) are views of the
   * received bytes, which the proxy may reuse once the exchange is over (its response handed to
   * the client): copy what you keep longer.
   */
  body(): RequestOf<K>;
  /**
   * The body's structure with every bytes and records field left empty: enough to authorize a
   * Produce request without joining its records into one buffer. Not cached; do not setBody() it.
   */
  skim(): RequestOf<K>;
  /** Replaces the body; the proxy encodes it at the request's version before forwarding. */
  setBody(body: RequestOf<K>): void;
  /**
   * The body skimmed, with where its records lie: a header-level view of the records (batch
   * headers read in place, nothing joined or copied). src/apis/records.ts turns it into
   * per-partition views. Not cached.
   */
  locate(): Located<RequestOf<K>>;
  /** True once some stage called setBody. */
  readonly modified: boolean;
  /** Whether the broker will answer (false only for Produce with acks=0). */
  readonly expectsResponse: boolean;
  /**
   * Asks to see this one request's response, for a stage that did not declare interest in the
   * API's responses (say, to merge back parts of a request it answered itself). The hook runs
   * in the calling stage's place in the response order. Other requests keep the fast path.
   */
  interceptResponse(hook: ResponseHook): void;
}

export type ResponseHook = (res: InterceptedResponse) => void | Promise<void>;

/** The response to a request of API key K; narrow with `isResponse(res, ApiKey.X)`. */
export interface InterceptedResponse<K extends KnownApiKey = KnownApiKey> {
  readonly request: InterceptedRequest<K>;
  readonly connection: ConnectionInfo;
  /** The response payload as received (header + body, no size prefix). Do not mutate. */
  readonly frame: Buffer;
  /** Payload bytes (as `frame.length`, without joining anything). */
  readonly size: number;
  /** True when a stage answered the request itself and the broker never saw it. */
  readonly synthetic: boolean;
  /** The body, decoded on first call and cached. */
  body(): ResponseOf<K>;
  /**
   * The body's structure with every bytes and records field left empty: enough to look at a
   * large response (say, Fetch) without copying its records. Not cached; do not setBody() it.
   */
  skim(): ResponseOf<K>;
  setBody(body: ResponseOf<K>): void;
  /** As InterceptedRequest.locate(), for a response (Fetch, ShareFetch). */
  locate(): Located<ResponseOf<K>>;
  readonly modified: boolean;
}

/** A skimmed body and its records fields, in reading order (see InterceptedRequest.locate). */
export interface Located<T> {
  readonly body: T;
  readonly fields: readonly RecordsField[];
  /** The batch headers of a field, read where they lie. */
  headers(field: RecordsField): RecordsHeaders;
  /** A field's bytes as one buffer: a view of the received bytes when in one read, else a copy. */
  bytes(field: RecordsField): Buffer;
}

/** A Fetch or ShareFetch response that went to the client on the fast path, as far as its headers tell (see Interest.responseViews). */
export interface ResponseRecordsView {
  readonly request: InterceptedRequest;
  readonly connection: ConnectionInfo;
  /** Payload bytes (size prefix excluded). */
  readonly size: number;
  /** The response's top-level error code (0 when it has none). */
  readonly errorCode: number;
  /** Fetch: the session id the broker answered with (KIP-227; 0 for none). */
  readonly sessionId: number;
  /** Every partition in the response's order, with its batch headers (the records themselves are gone: field null). */
  readonly partitions: readonly PartitionRecords[];
}

export type RequestDecision = void | undefined | { respond: unknown } | { close: string };

export interface Interest {
  /** API keys whose requests the stage wants to see; undefined means every request. */
  requests?: ReadonlySet<number> | 'all';
  /** API keys whose responses the stage wants to see (optionally only from some version on). */
  responses?: ReadonlySet<number> | 'all';
  /** Narrower than `responses`: return false to skip a (key, version) pair cheaply. */
  responseVersion?(apiKey: number, apiVersion: number): boolean;
  /**
   * APIs among `responses` whose responses the stage can take as a header-level records view
   * (onResponseView) instead of whole. When every stage that wants a response can, and nothing
   * else holds it (no per-request hook), the response stays on the fast path: cut through to the
   * client, its records spliced by the kernel, and read as it passes (partitions, error codes,
   * offsets, batch headers). Streamed today: Fetch v4 and later, ShareFetch.
   */
  responseViews?: ReadonlySet<number>;
}

export interface Stage {
  readonly name: string;
  readonly interest: Interest;
  /**
   * This stage admits connections: until it calls `conn.limits.admit()`, each connection is held
   * to the limits for strangers (see ConnectionLimits). The identity stage sets it.
   */
  readonly admitsConnections?: boolean;
  /** A new client connection; throwing or returning a reason string refuses it. */
  onConnect?(conn: ConnectionInfo): void | string | Promise<void | string>;
  /**
   * True while the connection's broker connection may wait (say, until its client has logged
   * in), so that a client that never gets that far costs no broker connection. Asked once the
   * onConnect stages ran and again after each request the stages were through with: the proxy
   * opens the broker connection once no stage holds it back, or as soon as a request has to go
   * to the broker. Meanwhile an ApiVersions request that passes every stage is answered from the
   * broker's remembered answer (to the same request version) instead, and its response runs
   * through the response stages as the broker's would.
   */
  holdUpstream?(conn: ConnectionInfo): boolean;
  onRequest?(req: InterceptedRequest): RequestDecision | Promise<RequestDecision>;
  onResponse?(res: InterceptedResponse): void | Promise<void>;
  /** A response of an API in interest.responseViews that went on the fast path, once its last byte was written. */
  onResponseView?(view: ResponseRecordsView): void;
  /** The connection is gone; `reason` says why (a CloseCode or a stage's words). */
  onClose?(conn: ConnectionInfo, reason: string): void;
}

export function wantsRequest(stage: Stage, apiKey: number): boolean {
  const r = stage.interest.requests;
  return !!stage.onRequest && (r === 'all' || (r !== undefined && r.has(apiKey)));
}

/** Whether the stage takes this response as a records view (it wants it, and views will do). */
export function takesView(stage: Stage, apiKey: number): boolean {
  return !!stage.onResponseView && !!stage.interest.responseViews?.has(apiKey);
}

export function wantsResponse(stage: Stage, apiKey: number, apiVersion: number): boolean {
  const r = stage.interest.responses;
  if (!stage.onResponse || !(r === 'all' || (r !== undefined && r.has(apiKey)))) return false;
  return stage.interest.responseVersion ? stage.interest.responseVersion(apiKey, apiVersion) : true;
}

/** Narrows a request to one API, so that its body has that API's type. */
export function isRequest<K extends KnownApiKey>(req: InterceptedRequest, apiKey: K): req is InterceptedRequest<K> {
  return req.header.apiKey === apiKey;
}

/** Narrows a response to one API, so that its body has that API's type. */
export function isResponse<K extends KnownApiKey>(res: InterceptedResponse, apiKey: K): res is InterceptedResponse<K> {
  return res.request.header.apiKey === apiKey;
}
