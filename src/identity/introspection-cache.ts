/**
 * A small bounded cache of introspection results, keyed by the token's SHA-256 (tokens are not
 * kept). An active result lives until the configured time or the token's expiry, whichever comes
 * first — never past it; an `inactive` answer lives the configured time. When full, the oldest
 * entry goes.
 */
import { createHash } from 'node:crypto';
import { TokenRejected, type ValidatedToken } from './token-result.js';

type Entry = { until: number; result: ValidatedToken | TokenRejected };

export class IntrospectionCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  static key(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  get(key: string, now: number): ValidatedToken | TokenRejected | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now >= e.until) {
      this.entries.delete(key);
      return undefined;
    }
    return e.result;
  }

  /** Remembers an active result or an `inactive` rejection; other rejections (an unreachable issuer) are not kept. */
  set(key: string, result: ValidatedToken | TokenRejected, now: number): void {
    if (this.ttlMs <= 0 || this.maxEntries <= 0) return;
    if (result instanceof TokenRejected && result.reason !== 'inactive') return;
    const until = result instanceof TokenRejected ? now + this.ttlMs : Math.min(now + this.ttlMs, result.expiresAt);
    if (until <= now) return;
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { until, result });
  }

  get size(): number {
    return this.entries.size;
  }
}
