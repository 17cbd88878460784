/**
 * Decisions shared by every connection of a subject, for one policy generation: per subject,
 * (resource type, operation, name) → the Check the rules gave (allowed, deciding rule). A hit
 * hands out that same Check (Checks are never changed), whose action equals the one asked: it
 * records what an evaluation would, and allocates nothing.
 *
 * Names are the client's choice, so everything is bounded: per subject a BoundedMap of
 * `perSubject` decisions; subjects in the order they last added one (a hit costs no bookkeeping),
 * the longest idle forgotten while there are more than `subjects` of them or more than `entries`
 * decisions in all; a name longer than `maxNameLength` is evaluated every time, never kept.
 *
 * A newer generation empties the cache. A lookup for an older one (a request decided under a
 * policy since replaced) is neither served from the cache nor stored in it.
 */
import { BoundedMap } from './bounded-map.js';
import { decisionCacheTally as tally } from './metrics.js';
import type { Action, Check } from './model.js';

export interface DecisionCacheLimits {
  /** Decisions kept per subject. */
  readonly perSubject: number;
  /** Subjects kept. */
  readonly subjects: number;
  /** Decisions kept in all (at least perSubject). */
  readonly entries: number;
  /** Longer resource names are evaluated every time (Kafka's topic names have at most 249 characters). */
  readonly maxNameLength: number;
}

/** Measured on Node 20: about 250 bytes a decision with 20-character names, 500 with 255: 25 to 50 MB when full. */
export const DEFAULT_LIMITS: DecisionCacheLimits = { perSubject: 10_000, subjects: 1_000, entries: 100_000, maxNameLength: 255 };

/** What decides an action when the cache cannot (SubjectPolicy). */
export interface Evaluator {
  evaluate(action: Action): Check;
}

export class DecisionCache {
  private generation = 0;
  /** Subject key → its decisions; Map order is the order they last added one, oldest first. */
  private readonly bySubject = new Map<string, BoundedMap<string, Check>>();
  private entries = 0;

  constructor(readonly limits: DecisionCacheLimits = DEFAULT_LIMITS) {
    if (limits.subjects < 1 || limits.entries < limits.perSubject) throw new RangeError('decision cache: room for a subject and its decisions needed (subjects >= 1, entries >= perSubject)');
  }

  /** Decisions held now, in all. */
  get size(): number {
    return this.entries;
  }

  /** Subjects held now. */
  get subjectCount(): number {
    return this.bySubject.size;
  }

  /**
   * The decision on `action` of the subject keyed `key` (Policy.subjectKey) under the policy of
   * `generation`: from the cache, or from `evaluator` (and then kept).
   */
  decide(generation: number, key: string, evaluator: Evaluator, action: Action): Check {
    if ((generation !== this.generation && !this.advance(generation)) || action.name.length > this.limits.maxNameLength) {
      tally.misses++;
      return evaluator.evaluate(action);
    }
    const id = `${action.resourceType}\0${action.operation}\0${action.name}`;
    const table = this.bySubject.get(key);
    const cached = table?.get(id);
    if (cached !== undefined) {
      tally.hits++;
      return cached;
    }
    tally.misses++;
    const check = evaluator.evaluate(action);
    this.store(key, table, id, check);
    return check;
  }

  /** Moves to a newer generation (emptying the cache); false for an older one. */
  private advance(generation: number): boolean {
    if (generation < this.generation) return false;
    this.generation = generation;
    this.bySubject.clear();
    this.entries = 0;
    return true;
  }

  private store(key: string, table: BoundedMap<string, Check> | undefined, id: string, check: Check): void {
    if (table === undefined) table = new BoundedMap(this.limits.perSubject);
    else this.bySubject.delete(key); // set again below: now the newest
    this.bySubject.set(key, table);
    const before = table.size;
    table.set(id, check);
    this.entries += table.size - before;
    // This subject is the newest and alone fits (perSubject <= entries): only others go.
    while (this.bySubject.size > 1 && (this.bySubject.size > this.limits.subjects || this.entries > this.limits.entries)) {
      const [oldest, decisions] = this.bySubject.entries().next().value!;
      this.bySubject.delete(oldest);
      this.entries -= decisions.size;
    }
  }
}
