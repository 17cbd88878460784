/**
 * Sessions that never authenticate, under a rate. A connection's events are held (not yet
 * chained) until the session settles: once it authenticates (or, without an identity section,
 * sends a request other than ApiVersions and SASL) what it held is recorded as it happened and it
 * is recorded in full from then on; authenticated sessions are never summarised. A session that
 * closes without authenticating is recorded in full while its client address has had fewer than
 * `inFullPerAddress` such sessions in the current window (and all addresses together fewer than
 * `inFullTotal`); beyond that, and whenever the audit sink is writing to its spool, it is counted
 * instead: at the end of the window one `sessions.summary` event per address gives the counts
 * (connections, requests, bytes, failed logins by reason and by claimed name, close reasons).
 * Addresses beyond `addresses` in one window share a summary for address `*`. Nothing is left
 * out without being counted; summaries are chained events like every other.
 */
import type { AuditKind, AuthenticationFailedData, SessionClosedData, SessionOpenedData, SessionsSummaryData } from './events.js';

export interface SummariserOptions {
  /** Unauthenticated sessions per client address and window recorded in full. */
  inFullPerAddress: number;
  /** Unauthenticated sessions per window recorded in full, all addresses together. */
  inFullTotal: number;
  windowMs: number;
  /** Addresses with a summary of their own per window; the rest share address `*`. */
  addresses: number;
  /**
   * Whether clients must authenticate (an identity section). Without, a session that sends a
   * request other than ApiVersions, SaslHandshake or SaslAuthenticate is a working session.
   */
  authRequired: boolean;
}

/** Events a session holds before it settles; request events beyond are only counted (`eventsNotRecorded` on session.closed). */
export const HOLD_EVENTS = 16;
/** Distinct keys per count map in a summary; the rest are counted under OTHER. */
export const SUMMARY_KEYS = 20;
export const OTHER = '(other)';
/** The address of the summary shared by addresses beyond SummariserOptions.addresses. */
export const OTHER_ADDRESSES = '*';

/** Where settled events go: the chain (AuditTrail.emit). `background`: an unauthenticated session's or a summary. */
export type SummaryEmit = (kind: AuditKind, subject: string, data: unknown, time: number, background: boolean) => void;

interface HeldEvent {
  kind: AuditKind;
  subject: string;
  data: unknown;
  time: number;
}

interface Tally {
  connections: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  failed: number;
  byReason: Map<string, number>;
  byClaimedPrincipal: Map<string, number>;
  closeReasons: Map<string, number>;
  firstOpenedAt: number;
  lastClosedAt: number;
}

function count(m: Map<string, number>, key: string, n = 1): void {
  const k = m.has(key) || m.size < SUMMARY_KEYS ? key : OTHER;
  m.set(k, (m.get(k) ?? 0) + n);
}

export class Summariser {
  private windowStart: number;
  /** Unauthenticated sessions recorded in full this window, by address, and all together. */
  private readonly inFull = new Map<string, number>();
  private inFullTotal = 0;
  private readonly tallies = new Map<string, Tally>();
  readonly stats = { held: 0, inFull: 0, summarised: 0, summaries: 0 };

  constructor(
    readonly opts: SummariserOptions,
    private readonly instance: string,
    private readonly emit: SummaryEmit,
    /** True while the audit sink writes to its spool: no unauthenticated session is then recorded in full. */
    private readonly pressed: () => boolean = () => false,
    private readonly now: () => number = Date.now,
  ) {
    this.windowStart = now();
  }

  get authRequired(): boolean {
    return this.opts.authRequired;
  }

  /** A new session whose events wait until it settles. */
  hold(address: string): HeldSession {
    this.stats.held++;
    return new HeldSession(this, address);
  }

  /** Ends the window if its time is up (or `all`: now), writing its summaries. */
  flush(all = false): void {
    const now = this.now();
    if (!all && now < this.windowStart + this.opts.windowMs) return;
    for (const [address, t] of this.tallies) this.summary(address, t, now);
    this.tallies.clear();
    this.inFull.clear();
    this.inFullTotal = 0;
    this.windowStart = now;
  }

  /** @internal HeldSession.end(): in full within the rate, else counted. */
  ended(address: string, events: HeldEvent[]): void {
    this.flush();
    const used = this.inFull.get(address) ?? 0;
    if (!this.pressed() && used < this.opts.inFullPerAddress && this.inFullTotal < this.opts.inFullTotal) {
      this.inFull.set(address, used + 1);
      this.inFullTotal++;
      this.stats.inFull++;
      this.record(events, true);
      return;
    }
    this.stats.summarised++;
    const key = this.tallies.has(address) || this.tallies.size < this.opts.addresses ? address : OTHER_ADDRESSES;
    let t = this.tallies.get(key);
    if (!t) {
      t = { connections: 0, requests: 0, bytesIn: 0, bytesOut: 0, failed: 0, byReason: new Map(), byClaimedPrincipal: new Map(), closeReasons: new Map(), firstOpenedAt: Infinity, lastClosedAt: 0 };
      this.tallies.set(key, t);
    }
    t.connections++;
    for (const e of events) {
      if (e.kind === 'session.opened') {
        t.firstOpenedAt = Math.min(t.firstOpenedAt, Date.parse((e.data as SessionOpenedData).openedAt) || e.time);
      } else if (e.kind === 'session.authentication_failed') {
        const d = e.data as AuthenticationFailedData;
        t.failed++;
        count(t.byReason, d.reason);
        if (d.claimedPrincipal) count(t.byClaimedPrincipal, d.claimedPrincipal);
      } else if (e.kind === 'session.closed') {
        const d = e.data as SessionClosedData;
        t.requests += d.requests;
        t.bytesIn += d.bytesIn;
        t.bytesOut += d.bytesOut;
        count(t.closeReasons, d.reason);
        t.lastClosedAt = Math.max(t.lastClosedAt, e.time);
      }
    }
  }

  /** @internal Records held events in order, with the times they happened. */
  record(events: readonly HeldEvent[], background: boolean): void {
    for (const e of events) this.emit(e.kind, e.subject, e.data, e.time, background);
  }

  private summary(address: string, t: Tally, now: number): void {
    this.stats.summaries++;
    const data: SessionsSummaryData = {
      address,
      windowStart: new Date(this.windowStart).toISOString(),
      windowEnd: new Date(now).toISOString(),
      recordedInFull: address === OTHER_ADDRESSES ? 0 : (this.inFull.get(address) ?? 0),
      connections: t.connections,
      requests: t.requests,
      bytesIn: t.bytesIn,
      bytesOut: t.bytesOut,
      failedLogins: { count: t.failed, byReason: Object.fromEntries(t.byReason), byClaimedPrincipal: Object.fromEntries(t.byClaimedPrincipal) },
      closeReasons: Object.fromEntries(t.closeReasons),
      firstOpenedAt: new Date(Number.isFinite(t.firstOpenedAt) ? t.firstOpenedAt : this.windowStart).toISOString(),
      lastClosedAt: new Date(t.lastClosedAt || now).toISOString(),
    };
    this.emit('sessions.summary', `summary/${this.instance}/${address}`, data, now, true);
  }
}

/** One session's events while it may still end unauthenticated. */
export class HeldSession {
  private events: HeldEvent[] = [];
  /** Request events beyond HOLD_EVENTS, counted only. */
  notRecorded = 0;
  private done = false;

  constructor(
    private readonly owner: Summariser,
    readonly address: string,
  ) {}

  add(kind: AuditKind, subject: string, data: unknown, time: number): void {
    if (this.done) {
      this.owner.record([{ kind, subject, data, time }], false);
      return;
    }
    // Only requests (ApiVersions and SASL, which a client may repeat) can be many; the session's
    // own events are always kept.
    if (kind === 'request' && this.events.length >= HOLD_EVENTS) {
      this.notRecorded++;
      return;
    }
    this.events.push({ kind, subject, data, time });
  }

  /** The session authenticated (or does work): everything held is recorded now, in order. */
  release(): void {
    if (this.done) return;
    this.done = true;
    const events = this.events;
    this.events = [];
    this.owner.record(events, false);
  }

  /** The session closed without authenticating: recorded in full within the rate, else counted. */
  end(): void {
    if (this.done) return;
    this.done = true;
    const events = this.events;
    this.events = [];
    this.owner.ended(this.address, events);
  }
}
