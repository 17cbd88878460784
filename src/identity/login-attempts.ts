/**
 * Failed logins counted per client address and per account name (limits.loginAttempts). Once
 * either count reaches its limit within a window, further attempts from that address, or naming
 * that account, are refused before any check (no token verification, no scrypt) until the window
 * that began with the first failure ends. Only failures count: a host whose clients log in often
 * and correctly is never slowed down. Refusals made here are not counted themselves.
 *
 * Each count is kept at most for its window; at most `maxTracked` keys are kept per kind, the
 * oldest windows dropped first, so names an attacker makes up cost bounded memory.
 */
export interface LoginAttemptLimits {
  /** Failed logins per window from one address; 0: no limit. */
  perAddress: number;
  /** Failed logins per window naming one account; 0: no limit. */
  perAccount: number;
  windowMs: number;
  /** Keys kept per kind (default 100,000). */
  maxTracked?: number;
}

/** An account name as counted: long names are cut (they are still counted, under their start). */
const MAX_NAME = 256;

/** Failures per key in windows that start at a key's first failure. */
export class WindowCounts {
  /** In the order windows began (a new window is re-inserted), so the oldest are first. */
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxTracked: number,
    private readonly now: () => number,
  ) {}

  /** Failures of `key` in its current window. */
  count(key: string): number {
    const w = this.windows.get(key);
    if (!w) return 0;
    if (this.now() - w.start >= this.windowMs) {
      this.windows.delete(key);
      return 0;
    }
    return w.count;
  }

  add(key: string): void {
    const now = this.now();
    const w = this.windows.get(key);
    if (w && now - w.start < this.windowMs) {
      w.count++;
      return;
    }
    this.windows.delete(key);
    this.expire(now);
    this.windows.set(key, { start: now, count: 1 });
  }

  get size(): number {
    return this.windows.size;
  }

  /** Drops ended windows from the front, then the oldest while full. */
  private expire(now: number): void {
    for (const [key, w] of this.windows) {
      if (now - w.start < this.windowMs && this.windows.size < this.maxTracked) break;
      this.windows.delete(key);
    }
  }
}

export class LoginAttempts {
  private readonly addresses: WindowCounts;
  private readonly accounts: WindowCounts;

  constructor(
    private readonly limits: LoginAttemptLimits,
    now: () => number = Date.now,
  ) {
    const max = limits.maxTracked ?? 100_000;
    this.addresses = new WindowCounts(limits.windowMs, max, now);
    this.accounts = new WindowCounts(limits.windowMs, max, now);
  }

  /** Why an attempt from `address` naming `account` is refused unchecked; undefined when it may be checked. */
  refusal(address: string, account: string | undefined): string | undefined {
    const { perAddress, perAccount, windowMs } = this.limits;
    const key = addressOf(address);
    if (perAddress > 0 && this.addresses.count(key) >= perAddress) {
      return `too many failed logins from ${key}: ${perAddress} in ${windowMs} ms (limits.loginAttempts.perAddress)`;
    }
    if (perAccount > 0 && account !== undefined && this.accounts.count(account.slice(0, MAX_NAME)) >= perAccount) {
      return `too many failed logins naming ${JSON.stringify(account.slice(0, 100))}: ${perAccount} in ${windowMs} ms (limits.loginAttempts.perAccount)`;
    }
    return undefined;
  }

  /** A failed login from `address`, naming `account` if it named one. */
  failed(address: string, account: string | undefined): void {
    if (this.limits.perAddress > 0) this.addresses.add(addressOf(address));
    if (this.limits.perAccount > 0 && account !== undefined) this.accounts.add(account.slice(0, MAX_NAME));
  }
}

/** An IPv4-mapped IPv6 address counts as the IPv4 address it is. */
function addressOf(remoteAddress: string): string {
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}
