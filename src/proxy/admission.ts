/**
 * The limits for strangers (see ConnectionLimits in the stage API). With a stage that admits
 * connections (identity), each new connection gets a small frame limit and a deadline and counts
 * against its address's share of connections not admitted yet; admitting it lifts all three. The
 * core knows only whether a connection has been admitted, never by whom or how: the identity
 * stage calls `conn.limits.admit()` once the client has logged in.
 */
import type { ConnectionLimits } from '../stage/connection-info.js';
import type { FrameLimit } from './frame-reader.js';

export interface StrangerLimits {
  /** The largest request frame before admission (limits.maxUnauthenticatedFrameBytes). */
  maxFrameBytes: number;
  /** From connect to admission (limits.loginTimeoutMs). */
  timeoutMs: number;
  /** Connections not admitted yet one address may hold at once (limits.maxUnauthenticatedConnectionsPerAddress). */
  perAddress: number;
}

/** One connection's limits as the core applies them. */
export interface ConnectionAdmission extends ConnectionLimits, FrameLimit {
  /** Starts the deadline: `expire` is called with the reason if the connection is not admitted in time. */
  start(expire: (reason: string) => void): void;
  /** The connection is closed. */
  end(): void;
}

/** The address a client is counted under: an IPv4-mapped IPv6 address as the IPv4 address it is. */
export function addressKey(remoteAddress: string): string {
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}

export class Admissions {
  /** Connections not admitted yet, per address. */
  private readonly waiting = new Map<string, number>();

  /**
   * @param maxFrameBytes the ordinary frame limit (limits.maxFrameBytes)
   * @param strangers the limits before admission; null when no stage admits connections
   */
  constructor(
    private readonly maxFrameBytes: number,
    private readonly strangers: StrangerLimits | null,
  ) {}

  /** Connections not admitted yet from `remoteAddress` now. */
  waitingFrom(remoteAddress: string): number {
    return this.waiting.get(addressKey(remoteAddress)) ?? 0;
  }

  /** The limits of a new connection from `remoteAddress`, or why it is refused (its address holds its share). */
  open(remoteAddress: string): ConnectionAdmission | string {
    const strangers = this.strangers;
    if (!strangers) return new Admitted(this.maxFrameBytes);
    const address = addressKey(remoteAddress);
    const n = this.waiting.get(address) ?? 0;
    if (n >= strangers.perAddress) {
      return `${address} already holds ${n} connections that have not logged in (limits.maxUnauthenticatedConnectionsPerAddress)`;
    }
    this.waiting.set(address, n + 1);
    return new Pending(this.maxFrameBytes, strangers, () => {
      const left = (this.waiting.get(address) ?? 1) - 1;
      if (left > 0) this.waiting.set(address, left);
      else this.waiting.delete(address);
    });
  }
}

/** Admitted from the start: no stage admits connections. */
class Admitted implements ConnectionAdmission {
  readonly admitted = true;
  constructor(readonly maxFrameBytes: number) {}
  admit(): void {}
  start(): void {}
  end(): void {}
}

class Pending implements ConnectionAdmission {
  private state: 'waiting' | 'admitted' | 'closed' = 'waiting';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ordinaryFrameBytes: number,
    private readonly strangers: StrangerLimits,
    /** Called once, when the connection stops waiting (admitted or closed). */
    private readonly left: () => void,
  ) {}

  get admitted(): boolean {
    return this.state === 'admitted';
  }

  get maxFrameBytes(): number {
    return this.state === 'admitted' ? this.ordinaryFrameBytes : this.strangers.maxFrameBytes;
  }

  get limitNote(): string {
    return this.state === 'admitted' ? '' : ' before login (limits.maxUnauthenticatedFrameBytes)';
  }

  start(expire: (reason: string) => void): void {
    if (this.state !== 'waiting' || this.timer) return;
    const ms = this.strangers.timeoutMs;
    this.timer = setTimeout(() => {
      if (this.state === 'waiting') expire(`no login within ${ms} ms of connecting (limits.loginTimeoutMs)`);
    }, ms);
    this.timer.unref();
  }

  admit(): void {
    this.stopWaiting('admitted');
  }

  end(): void {
    this.stopWaiting('closed');
  }

  private stopWaiting(to: 'admitted' | 'closed'): void {
    if (this.state !== 'waiting') return;
    this.state = to;
    clearTimeout(this.timer);
    this.left();
  }
}
