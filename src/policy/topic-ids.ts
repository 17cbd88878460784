/**
 * Topic ids → names, for APIs that name topics by id (Fetch v13+, DeleteTopics by id, Produce
 * v13+). One map per proxy, shared by policy and audit: learned from every Metadata answer
 * passing through (TopicIdsStage), and asked of the cluster when a request names an id not seen
 * yet. An id that stays unknown is denied by the policy rules, never forwarded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiKey } from '../../protocol/generated/index.js';
import { ZERO_UUID } from '../../protocol/runtime/index.js';
import { isResponse, type InterceptedResponse, type Stage } from '../stage/stage.js';
import { topicIdsFromMetadata } from './apis/metadata.js';

export type TopicListing = () => Promise<Array<[id: string, name: string]>>;

export class TopicIds {
  private readonly names = new Map<string, string>();
  private refreshing: Promise<void> | null = null;
  private lastRefresh = 0;

  constructor(
    private readonly listTopics?: TopicListing,
    /** Least time between two cluster lookups. */
    private readonly minRefreshMs = 1000,
  ) {}

  learn(pairs: Iterable<readonly [string, string]>): void {
    for (const [id, name] of pairs) if (id && id !== ZERO_UUID && name) this.names.set(id, name);
  }

  name(id: string): string | undefined {
    return this.names.get(id);
  }

  /** Looks up the ids not known yet with one cluster Metadata request (shared by concurrent callers, at most one per minRefreshMs). */
  async resolve(ids: readonly string[]): Promise<void> {
    if (!this.listTopics || ids.every((id) => this.names.has(id) || id === ZERO_UUID)) return;
    this.refreshing ??= (async () => {
      try {
        // A topic created a moment ago may be missing from the last listing: wait out the
        // spacing between lookups instead of denying it.
        const wait = this.lastRefresh + this.minRefreshMs - Date.now();
        if (wait > 0) await sleep(wait);
        this.learn(await this.listTopics!());
      } catch {
        // Unreachable cluster: the ids stay unknown and the request is denied.
      } finally {
        this.lastRefresh = Date.now();
        this.refreshing = null;
      }
    })();
    await this.refreshing;
  }
}

/** Learns topic ids from the Metadata answers the broker gives (placed before the stages that filter them). */
export class TopicIdsStage implements Stage {
  readonly name = 'topic-ids';
  readonly interest = { responses: new Set<number>([ApiKey.Metadata]) };

  constructor(readonly topicIds: TopicIds) {}

  onResponse(res: InterceptedResponse): void {
    if (!res.synthetic && isResponse(res, ApiKey.Metadata)) this.topicIds.learn(topicIdsFromMetadata(res.body()));
  }
}
