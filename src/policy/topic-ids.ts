/**
 * Topic ids → names, for APIs that name topics by id (Fetch v13+, DeleteTopics by id, Produce
 * v13+). Learned from every Metadata answer passing through, and asked of the cluster when a
 * request names an id not seen yet. An id that stays unknown is denied by the rules, never
 * forwarded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ZERO_UUID } from '../../protocol/runtime/index.js';

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
