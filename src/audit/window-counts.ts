/**
 * Events per key within a sliding time window (authentication failures per claimed name or per
 * client address, for the auth-failures alert), in bounded memory that never forgets everything
 * at once.
 *
 * A key is forgotten when nothing happened to it for a whole window (it would count 0 anyway), or
 * when the table is full and it is the one to make room for: among the keys with the fewest
 * events, the one idle longest. Keys are grouped by how many events they had when last seen, each
 * group in the order they were last seen, so both are found in constant time. Rotating through
 * fresh names, each failing once, therefore only churns the keys seen once: a name or an address
 * that keeps failing keeps its count however many other names go by. Pushing it out takes as many
 * events per fresh key as it has, for a whole table's worth of keys, within one window.
 *
 * Each key remembers the times of its last `keep` events: enough to tell whether `keep` of them
 * fall within the window, which is all an alert threshold asks.
 */

export interface WindowEntry {
  /** Times of its last events (at most `keep`), oldest first; all within the window after `hit`. */
  readonly times: number[];
  /** When an alert last fired for this key (set by the caller); null: never. */
  firedAt: number | null;
}

interface Slot extends WindowEntry {
  times: number[];
  /** The group it is in: how many events it had when last seen. */
  level: number;
}

export class WindowCounts {
  private readonly index = new Map<string, Slot>();
  /** levels[n]: keys with n events when last seen, least recently seen first. */
  private readonly levels: Array<Map<string, Slot>>;

  constructor(
    private readonly windowMs: number,
    /** How many recent events a key remembers (at least 1). */
    private readonly keep: number,
    /** Most keys held at once. */
    private readonly maxKeys: number,
  ) {
    this.levels = Array.from({ length: keep + 1 }, () => new Map<string, Slot>());
  }

  /** Keys held now. */
  get size(): number {
    return this.index.size;
  }

  /** The entry of `key` without counting an event (undefined when not held). */
  peek(key: string): WindowEntry | undefined {
    return this.index.get(key);
  }

  /** Counts an event of `key` at `now`; its entry then holds the times of its events within the window (the last `keep`). */
  hit(key: string, now: number): WindowEntry {
    const since = now - this.windowMs;
    this.expire(since);
    let slot = this.index.get(key);
    if (slot) {
      this.levels[slot.level]!.delete(key);
      let drop = 0;
      while (drop < slot.times.length && slot.times[drop]! <= since) drop++;
      if (drop > 0) slot.times.splice(0, drop);
    } else {
      slot = { times: [], firedAt: null, level: 0 };
      this.index.set(key, slot);
    }
    slot.times.push(now);
    if (slot.times.length > this.keep) slot.times.shift();
    slot.level = slot.times.length;
    this.levels[slot.level]!.set(key, slot);
    if (this.index.size > this.maxKeys) this.evict(key);
    return slot;
  }

  /** Forgets the keys with no event after `since`: at the front of each group, oldest first. */
  private expire(since: number): void {
    for (let level = 1; level < this.levels.length; level++) {
      const group = this.levels[level]!;
      for (const [key, slot] of group) {
        if (slot.times[slot.times.length - 1]! > since) break;
        group.delete(key);
        this.index.delete(key);
      }
    }
  }

  /** Makes room: the least recently seen of the keys with the fewest events, other than `spare` (the key just counted). */
  private evict(spare: string): void {
    for (let level = 1; level < this.levels.length; level++) {
      const group = this.levels[level]!;
      for (const key of group.keys()) {
        if (key === spare) continue;
        group.delete(key);
        this.index.delete(key);
        return;
      }
    }
  }
}
