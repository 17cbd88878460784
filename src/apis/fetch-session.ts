/**
 * Fetch sessions (KIP-227) and share sessions (KIP-932), tracked once for the whole proxy and
 * read by every stage that needs them (policy, audit, masking).
 *
 * A broker keys a fetch session by its id alone, not by connection or principal: a client that
 * knows an id can go on with the session from any connection. So sessions are kept proxy-wide,
 * by broker (the node the connection is routed to) and id, with the principal that opened them;
 * an incremental fetch naming a session this proxy did not see open, or one another principal
 * opened, is answered FETCH_SESSION_ID_NOT_FOUND without reaching the broker (the client then
 * starts a full session, as after a broker evicted its session). Share sessions are keyed by
 * (group, member) and treated alike (SHARE_SESSION_NOT_FOUND).
 *
 * What a session holds is the client's view: which partitions it has, and the offset each is
 * fetched from. A full fetch (sessionEpoch 0, or -1 without a session) names every partition
 * and starts over; an incremental one (epoch > 0) names only the partitions that changed and
 * those to forget, and the broker's answer may carry any partition of the session. Stages keep
 * their own state about a session in its `attributes` (the policy: what it had the broker forget).
 *
 * A fetch session's id is the broker's answer to the request that opened it: the stage learns it
 * from the response (as a records view on the fast path, or whole). An incremental fetch that
 * comes before the answer to the full one was read (the zero-copy relay reports late) waits for it.
 */
import type { Logger } from 'pino';
import { ApiKey } from '../../protocol/generated/index.js';
import type { FetchRequest } from '../../protocol/generated/fetch-request.js';
import { defaultFetchResponse } from '../../protocol/generated/fetch-response.js';
import { defaultShareFetchResponse } from '../../protocol/generated/share-fetch-response.js';
import { defaultShareAcknowledgeResponse } from '../../protocol/generated/share-acknowledge-response.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import { isRequest, type InterceptedRequest, type InterceptedResponse, type RequestDecision, type ResponseRecordsView, type Stage } from '../stage/stage.js';

export const FETCH_SESSION_ID_NOT_FOUND = 70;
export const INVALID_FETCH_SESSION_EPOCH = 71;
export const SHARE_SESSION_NOT_FOUND = 122;
export const INVALID_SHARE_SESSION_EPOCH = 123;

/** The first Fetch version with sessions. */
const FETCH_SESSION_MIN_VERSION = 7;

export interface SessionPartition {
  /** The topic's name (versions before 13), else ''. */
  topic: string;
  /** The topic's id (version 13 on; share sessions always), else ''. */
  topicId: string;
  partition: number;
  /** Where the client fetches from (-1 for share sessions: the broker decides what it hands out). */
  fetchOffset: bigint;
}

/** A partition's key: the topic as the connection names it (id on v13+, else name) and the index. */
export function partitionKey(topic: string, topicId: string, partition: number): string {
  return `${topic || topicId}\u0000${partition}`;
}

/** Where a fetch-like request names its topics and forgotten topics (Fetch and ShareFetch differ). */
interface Listed {
  topics: ReadonlyArray<{ topic?: string; topicId: string; partitions: ReadonlyArray<{ partition?: number; partitionIndex?: number; fetchOffset?: bigint }> }>;
  forgottenTopicsData: ReadonlyArray<{ topic?: string; topicId: string; partitions: readonly number[] }>;
}

export class FetchSession {
  /** The partitions in the session, by partitionKey. */
  readonly partitions = new Map<string, SessionPartition>();
  /** What stages keep about this session (one value per key). */
  readonly attributes = new Map<string | symbol, unknown>();

  constructor(
    /** Who opened it (the principal's name); only they may go on with it. */
    readonly owner: string,
  ) {}

  /** Applies a Fetch or ShareFetch request, as the broker applies it to the session. */
  apply(req: Listed, full: boolean): void {
    if (full) this.partitions.clear();
    else for (const f of req.forgottenTopicsData) for (const p of f.partitions) this.partitions.delete(partitionKey(f.topic ?? '', f.topicId, p));
    for (const t of req.topics) {
      for (const p of t.partitions) {
        const partition = p.partition ?? p.partitionIndex ?? 0;
        this.partitions.set(partitionKey(t.topic ?? '', t.topicId, partition), { topic: t.topic ?? '', topicId: t.topicId, partition, fetchOffset: p.fetchOffset ?? -1n });
      }
    }
  }

  /** A value kept with the session by a stage, made on first use. */
  state<T>(key: string | symbol, init: () => T): T {
    let v = this.attributes.get(key) as T | undefined;
    if (v === undefined) this.attributes.set(key, (v = init()));
    return v;
  }
}

/** Sessions kept at most (a broker keeps 1,000 by default, max.incremental.fetch.session.cache.slots). */
export const DEFAULT_MAX_SESSIONS = 20_000;

/**
 * The proxy's sessions, by broker and session key. Bounded: beyond `max` the session used least
 * lately is forgotten, and its next incremental fetch is answered as if the broker had evicted it.
 */
export class FetchSessions {
  /** Map order is the order of last use, oldest first. */
  private readonly byKey = new Map<string, FetchSession>();

  constructor(readonly max = DEFAULT_MAX_SESSIONS) {}

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): FetchSession | undefined {
    const s = this.byKey.get(key);
    if (s) {
      this.byKey.delete(key);
      this.byKey.set(key, s);
    }
    return s;
  }

  set(key: string, session: FetchSession): void {
    this.byKey.delete(key);
    this.byKey.set(key, session);
    while (this.byKey.size > this.max) this.byKey.delete(this.byKey.keys().next().value!);
  }

  delete(key: string): void {
    this.byKey.delete(key);
  }
}

const fetchKey = (nodeId: number, sessionId: number): string => `f${nodeId}:${sessionId}`;
const shareKey = (nodeId: number, groupId: string | null, memberId: string | null): string => `s${nodeId}:${groupId ?? ''}\u0000${memberId ?? ''}`;

interface RequestSession {
  session: FetchSession;
  /** The partitions right after this request (what its answer may carry). */
  at: ReadonlyMap<string, SessionPartition>;
}
const OF_REQUEST = new WeakMap<InterceptedRequest, RequestSession>();

/** The session a Fetch or ShareFetch request belongs to, as the tracker left it (undefined without a tracker). */
export function sessionOf(req: InterceptedRequest): FetchSession | undefined {
  return OF_REQUEST.get(req)?.session;
}

/** The session's partitions right after this Fetch request (what its answer may carry), if tracked. */
export function sessionAt(req: InterceptedRequest): ReadonlyMap<string, SessionPartition> | undefined {
  return OF_REQUEST.get(req)?.at;
}

/** A full fetch that opens a session, waiting for the broker's answer to learn its id. */
interface Opening {
  req: InterceptedRequest;
  done: Promise<void>;
  settle: () => void;
}
const OPENING = Symbol('fetch session opening');

export interface FetchSessionStageOptions {
  /** Shared by every connection of the proxy (a new one by default). */
  sessions?: FetchSessions;
  /** The principal a connection acts for, the owner of the sessions it opens. */
  owner?: (conn: ConnectionInfo) => string;
  /** Where refusals are logged (an unknown session is normal after a restart; a foreign one is not). */
  log?: Pick<Logger, 'info' | 'warn'>;
}

/** Keeps the proxy's fetch and share sessions, ahead of the stages that read them. */
export class FetchSessionStage implements Stage {
  readonly name = 'fetch-sessions';
  readonly interest = {
    requests: new Set<number>([ApiKey.Fetch, ApiKey.ShareFetch, ApiKey.ShareAcknowledge]),
    responses: new Set<number>([ApiKey.Fetch]),
    responseVersion: (_key: number, version: number) => version >= FETCH_SESSION_MIN_VERSION,
    responseViews: new Set<number>([ApiKey.Fetch]),
  };
  readonly sessions: FetchSessions;
  private readonly owner: (conn: ConnectionInfo) => string;
  private readonly log: Pick<Logger, 'info' | 'warn'> | undefined;

  constructor(opts: FetchSessionStageOptions = {}) {
    this.sessions = opts.sessions ?? new FetchSessions();
    this.owner = opts.owner ?? (() => '');
    this.log = opts.log;
  }

  onRequest(req: InterceptedRequest): RequestDecision | Promise<RequestDecision> {
    if (isRequest(req, ApiKey.Fetch)) return this.onFetch(req, req.skim());
    if (isRequest(req, ApiKey.ShareFetch)) {
      const body = req.skim();
      return this.onShare(req, body.groupId, body.memberId, body.shareSessionEpoch, body as unknown as Listed, true);
    }
    if (isRequest(req, ApiKey.ShareAcknowledge)) {
      const body = req.skim();
      return this.onShare(req, body.groupId, body.memberId, body.shareSessionEpoch, null, false);
    }
  }

  private onFetch(req: InterceptedRequest, body: FetchRequest): RequestDecision | Promise<RequestDecision> {
    const conn = req.connection;
    const owner = this.owner(conn);
    if (req.header.apiVersion < FETCH_SESSION_MIN_VERSION || body.sessionEpoch <= 0) {
      // A full fetch: it ends the session it names (if any), and with epoch 0 opens a new one.
      if (body.sessionId !== 0 && req.header.apiVersion >= FETCH_SESSION_MIN_VERSION) this.endOwnFetchSession(conn, body.sessionId, owner);
      const session = new FetchSession(owner);
      this.track(req, session, body, true);
      if (req.header.apiVersion >= FETCH_SESSION_MIN_VERSION && body.sessionEpoch === 0) this.opening(conn, req);
      return;
    }
    const key = fetchKey(conn.nodeId, body.sessionId);
    const known = this.sessions.get(key);
    if (known?.owner === owner) return void this.track(req, known, body, false);
    const pending = conn.attributes.get(OPENING) as Opening | undefined;
    if (known === undefined && pending) {
      // The answer that names this session may not have been read yet: decide once it was.
      return pending.done.then(() => this.onFetch(req, body));
    }
    this.refused(req, owner, `fetch session ${body.sessionId}`, known);
    return { respond: { ...defaultFetchResponse(), errorCode: FETCH_SESSION_ID_NOT_FOUND, sessionId: 0 } };
  }

  /** Logs a refused session: one another principal opened (warn), or one unknown here (info). */
  private refused(req: InterceptedRequest, owner: string, what: string, known: FetchSession | undefined): void {
    const fields = { conn: req.connection.id, api: req.header.apiName, session: what, owner };
    if (known) this.log?.warn(fields, 'session refused: it belongs to another principal');
    else this.log?.info(fields, 'session refused: unknown to this proxy (the client starts a new one)');
  }

  /** Ends a session a full fetch names, when the connection's principal owns it (the broker ends it too). */
  private endOwnFetchSession(conn: ConnectionInfo, sessionId: number, owner: string): void {
    const key = fetchKey(conn.nodeId, sessionId);
    if (this.sessions.get(key)?.owner === owner) this.sessions.delete(key);
  }

  private onShare(req: InterceptedRequest, groupId: string | null, memberId: string | null, epoch: number, listed: Listed | null, isFetch: boolean): RequestDecision {
    const conn = req.connection;
    const owner = this.owner(conn);
    const key = shareKey(conn.nodeId, groupId, memberId);
    const known = this.sessions.get(key);
    if (epoch === 0 && isFetch) {
      // Opens (or reopens) the member's share session: it is this principal's from now on.
      const session = new FetchSession(owner);
      this.sessions.set(key, session);
      this.track(req, session, listed!, true);
      return;
    }
    if (epoch === -1) {
      // Closes the session (with a last ShareFetch or ShareAcknowledge).
      if (known?.owner === owner) this.sessions.delete(key);
      else if (known) {
        this.refused(req, owner, `share session ${groupId}/${memberId}`, known);
        return { respond: shareNotFound(req.header.apiKey) };
      }
      if (listed) this.track(req, new FetchSession(owner), listed, true);
      return;
    }
    if (known?.owner !== owner) {
      this.refused(req, owner, `share session ${groupId}/${memberId}`, known);
      return { respond: shareNotFound(req.header.apiKey) };
    }
    if (listed) this.track(req, known, listed, false);
  }

  private track(req: InterceptedRequest, session: FetchSession, body: Listed, full: boolean): void {
    session.apply(body, full);
    OF_REQUEST.set(req, { session, at: new Map(session.partitions) });
  }

  /** Notes a full fetch that opens a session; its answer (or the connection's end) settles it. */
  private opening(conn: ConnectionInfo, req: InterceptedRequest): void {
    (conn.attributes.get(OPENING) as Opening | undefined)?.settle(); // a newer full fetch replaces it
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const op: Opening = {
      req,
      done,
      settle: () => {
        if (conn.attributes.get(OPENING) === op) conn.attributes.delete(OPENING);
        settle();
      },
    };
    conn.attributes.set(OPENING, op);
  }

  onResponse(res: InterceptedResponse): void {
    if (res.request.header.apiKey !== ApiKey.Fetch) return;
    const body = res.skim() as { errorCode: number; sessionId: number };
    this.answered(res.request, body.errorCode, body.sessionId);
  }

  onResponseView(view: ResponseRecordsView): void {
    this.answered(view.request, view.errorCode, view.sessionId);
  }

  /** The broker's answer to a Fetch: a new session's id, or a session the broker no longer has. */
  private answered(req: InterceptedRequest, errorCode: number, sessionId: number): void {
    const conn = req.connection;
    const tracked = OF_REQUEST.get(req);
    if (errorCode === FETCH_SESSION_ID_NOT_FOUND || errorCode === INVALID_FETCH_SESSION_EPOCH) {
      const sent = req.skim() as FetchRequest;
      const key = fetchKey(conn.nodeId, sent.sessionId);
      if (tracked && this.sessions.get(key) === tracked.session) this.sessions.delete(key);
    } else if (errorCode === 0 && sessionId !== 0 && tracked) {
      // A new id from the broker: an entry still under it is one the broker has evicted.
      this.sessions.set(fetchKey(conn.nodeId, sessionId), tracked.session);
    }
    const pending = conn.attributes.get(OPENING) as Opening | undefined;
    if (pending?.req === req) pending.settle();
  }

  onClose(conn: ConnectionInfo): void {
    (conn.attributes.get(OPENING) as Opening | undefined)?.settle();
  }
}

function shareNotFound(apiKey: number): unknown {
  return apiKey === ApiKey.ShareFetch
    ? { ...defaultShareFetchResponse(), errorCode: SHARE_SESSION_NOT_FOUND }
    : { ...defaultShareAcknowledgeResponse(), errorCode: SHARE_SESSION_NOT_FOUND };
}
