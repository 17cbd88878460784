/**
 * A map of at most `max` entries that forgets what has not been used lately, at the cost of
 * plain Map operations (quick-lru's scheme, an approximation of least-recently-used): entries go
 * into `recent` until it holds half of `max`; then `recent` becomes `older` and the former
 * `older` is dropped. Reading an entry from `older` moves it back into `recent`, so an entry
 * used since the last turnover outlives the next one.
 */
export class BoundedMap<K, V> {
  private recent = new Map<K, V>();
  private older = new Map<K, V>();
  private readonly half: number;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 2) throw new RangeError(`BoundedMap needs room for 2 entries at least, not ${max}`);
    this.half = Math.floor(max / 2);
  }

  get size(): number {
    return this.recent.size + this.older.size;
  }

  get(key: K): V | undefined {
    const v = this.recent.get(key);
    if (v !== undefined) return v;
    const old = this.older.get(key);
    if (old !== undefined) {
      this.older.delete(key);
      this.add(key, old);
    }
    return old;
  }

  set(key: K, value: V): void {
    if (this.recent.has(key)) {
      this.recent.set(key, value);
      return;
    }
    this.older.delete(key);
    this.add(key, value);
  }

  clear(): void {
    this.recent = new Map();
    this.older = new Map();
  }

  private add(key: K, value: V): void {
    if (this.recent.size >= this.half) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(key, value);
  }
}
