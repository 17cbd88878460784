/**
 * A proxy-wide bound on the scrypt work of service-account logins (service-accounts.ts). One
 * check costs about 100 ms of a libuv thread and 32 MiB at the default scrypt parameters, and
 * anyone who can reach the port can ask for one: a SASL/PLAIN login naming an account, or any
 * other name (refused after a dummy check of the same cost, so that timing does not tell which
 * names are accounts). Unbounded, that pins the libuv pool (which DNS lookups, file writes and
 * TLS work share) and the memory.
 *
 * At most `perSecond` checks are admitted per second (a bucket that holds one second's worth, so
 * a burst of that many is taken at once), and at most `maxInFlight` run at a time; admitted checks
 * beyond that wait their turn, at most a second's worth of them. An attempt that finds no room is
 * refused at once, without any crypto work, and the caller answers it as an ordinary failed
 * login: the client cannot tell it from a wrong secret, nor a known name from an unknown one.
 */

/** Why an attempt was refused: no room in the second's budget, or too many waiting already. */
export type RefusedBecause = 'rate' | 'queue';

export interface SecretCheckLimits {
  /** Checks running at once. */
  maxInFlight: number;
  /** Checks admitted per second (also the burst, and how many may wait). */
  perSecond: number;
}

export interface SecretCheckLimiterOptions extends SecretCheckLimits {
  /** Called for each refused attempt (metrics, log). */
  onRefused?: (why: RefusedBecause) => void;
  /** For tests. */
  now?: () => number;
}

export class SecretCheckLimiter {
  private tokens: number;
  private refilledAt: number;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly now: () => number;

  constructor(private readonly opts: SecretCheckLimiterOptions) {
    this.now = opts.now ?? Date.now;
    this.tokens = opts.perSecond;
    this.refilledAt = this.now();
  }

  /** Checks running now. */
  get running(): number {
    return this.inFlight;
  }

  /** Checks admitted and waiting for their turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `check` once admitted (at once, or after waiting its turn); undefined, at once and
   * without calling `check`, when the attempt is refused.
   */
  run<T>(check: () => Promise<T>): Promise<T> | undefined {
    const { maxInFlight, perSecond } = this.opts;
    this.refill();
    const why: RefusedBecause | undefined = this.tokens < 1 ? 'rate' : this.inFlight >= maxInFlight && this.waiting.length >= perSecond ? 'queue' : undefined;
    if (why) {
      this.opts.onRefused?.(why);
      return undefined;
    }
    this.tokens -= 1;
    const turn = this.inFlight < maxInFlight ? Promise.resolve() : new Promise<void>((r) => this.waiting.push(r));
    if (this.inFlight < maxInFlight) this.inFlight++;
    return turn.then(check).finally(() => this.done());
  }

  private done(): void {
    const next = this.waiting.shift();
    if (next) next(); // the slot passes on to the next in line
    else this.inFlight--;
  }

  private refill(): void {
    const now = this.now();
    const { perSecond } = this.opts;
    this.tokens = Math.min(perSecond, this.tokens + ((now - this.refilledAt) / 1000) * perSecond);
    this.refilledAt = now;
  }
}
