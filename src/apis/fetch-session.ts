/**
 * Fetch sessions (KIP-227) as the client sees them, per connection: which partitions are in the
 * session and the offset each is fetched from. A full fetch (sessionEpoch 0, or -1 without a
 * session) names every partition and starts over; an incremental one (epoch > 0) names only the
 * partitions that changed and those to forget, and the broker's answer may carry any partition
 * of the session. Stages that read Fetch answers (audit, masking) learn from here what a
 * response's partitions were fetched from; FetchSessionStage keeps it up to date, ahead of them.
 */
import { ApiKey } from '../../protocol/generated/index.js';
import type { FetchRequest } from '../../protocol/generated/fetch-request.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import { isRequest, type InterceptedRequest, type Stage } from '../stage/stage.js';

export interface SessionPartition {
  /** The topic's name (versions before 13), else ''. */
  topic: string;
  /** The topic's id (version 13 on), else ''. */
  topicId: string;
  partition: number;
  fetchOffset: bigint;
}

/** A partition's key: the topic as the connection names it (id on v13+, else name) and the index. */
export function partitionKey(topic: string, topicId: string, partition: number): string {
  return `${topic || topicId}\u0000${partition}`;
}

export class FetchSession {
  /** The partitions in the session, by partitionKey. */
  readonly partitions = new Map<string, SessionPartition>();

  /** Applies a Fetch request, as the broker applies it to the session. */
  apply(req: FetchRequest): void {
    if (req.sessionEpoch <= 0) this.partitions.clear();
    else for (const f of req.forgottenTopicsData) for (const p of f.partitions) this.partitions.delete(partitionKey(f.topic, f.topicId, p));
    for (const t of req.topics) {
      for (const p of t.partitions) {
        this.partitions.set(partitionKey(t.topic, t.topicId, p.partition), { topic: t.topic, topicId: t.topicId, partition: p.partition, fetchOffset: p.fetchOffset });
      }
    }
  }
}

const SESSION = Symbol('fetch session');
/** The session's partitions as each Fetch request left them (its answer is read against these). */
const AT_REQUEST = new WeakMap<InterceptedRequest, ReadonlyMap<string, SessionPartition>>();

/** The connection's fetch session (empty until its first Fetch). */
export function fetchSession(conn: ConnectionInfo): FetchSession {
  let s = conn.attributes.get(SESSION) as FetchSession | undefined;
  if (!s) conn.attributes.set(SESSION, (s = new FetchSession()));
  return s;
}

/** The session's partitions right after this Fetch request (what its answer may carry), if tracked. */
export function sessionAt(req: InterceptedRequest): ReadonlyMap<string, SessionPartition> | undefined {
  return AT_REQUEST.get(req);
}

/** Keeps each connection's fetch session, ahead of the stages that read Fetch answers. */
export class FetchSessionStage implements Stage {
  readonly name = 'fetch-sessions';
  readonly interest = { requests: new Set<number>([ApiKey.Fetch]) };

  onRequest(req: InterceptedRequest): void {
    if (!isRequest(req, ApiKey.Fetch)) return;
    const session = fetchSession(req.connection);
    session.apply(req.skim());
    AT_REQUEST.set(req, new Map(session.partitions));
  }
}
