/**
 * Alert rules on the audit event stream, evaluated as events are recorded:
 *  - auth-failures: N authentication failures per principal or client address within a window
 *    (one alert per key per window), those counted in summaries of unauthenticated sessions too.
 *    Counted in bounded memory that forgets idle keys and, when full, the least-failed ones first,
 *    never all at once (window-counts.ts): rotating through names does not reset the count of a
 *    name or address that keeps failing;
 *  - denied-mutation: any mutation the policy denied (fully or partly);
 *  - critical-topic: any mutation of a listed topic (`*` globs).
 * An alert is logged (warn, GH_AUDIT_ALERT) and sent to every webhook destination.
 */
import { kindOf, type AuditEvent, type RequestData, type SessionOpenedData, type SessionsSummaryData } from './events.js';
import { OTHER, OTHER_ADDRESSES } from './summariser.js';
import type { AlertNotice } from './webhooks.js';
import { WindowCounts } from './window-counts.js';

/** Most keys (principals, addresses) whose authentication failures are counted at once. */
export const AUTH_FAILURE_KEYS = 100_000;

export interface AlertRules {
  authFailures?: { threshold: number; windowMs: number; by: Array<'principal' | 'address'> } | undefined;
  deniedMutations?: boolean | undefined;
  criticalTopics?: string[] | undefined;
}

export class AlertEngine {
  private readonly addresses = new Map<string, string>();
  private readonly failures: WindowCounts | null;
  private readonly critical: RegExp[];

  constructor(
    private readonly rules: AlertRules,
    private readonly notify: (a: AlertNotice) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.critical = (rules.criticalTopics ?? []).map((g) => new RegExp(`^${g.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`));
    const auth = rules.authFailures;
    this.failures = auth ? new WindowCounts(auth.windowMs, Math.max(auth.threshold, 2), AUTH_FAILURE_KEYS) : null;
  }

  /** Keys whose authentication failures are being counted (tests). */
  get countedKeys(): number {
    return this.failures?.size ?? 0;
  }

  onEvent(e: AuditEvent): void {
    const kind = kindOf(e.type);
    if (kind === 'session.opened') {
      const d = e.data as SessionOpenedData;
      this.addresses.set(e.subject, d.client.address);
      if (this.addresses.size > 100_000) this.addresses.delete(this.addresses.keys().next().value!);
    } else if (kind === 'session.closed') {
      this.addresses.delete(e.subject);
    } else if (kind === 'session.authentication_failed') {
      const a = this.addresses.get(e.subject);
      this.authFailure(e, a, (e.data as { claimedPrincipal?: string | null }).claimedPrincipal ?? null, 1);
    } else if (kind === 'sessions.summary') {
      const d = e.data as SessionsSummaryData;
      if (d.failedLogins.count === 0) return;
      const named = Object.entries(d.failedLogins.byClaimedPrincipal).filter(([name]) => name !== OTHER);
      const anonymous = d.failedLogins.count - named.reduce((n, [, c]) => n + c, 0);
      const address = d.address === OTHER_ADDRESSES ? undefined : d.address;
      for (const [name, n] of named) this.authFailure(e, address, name, n);
      if (anonymous > 0) this.authFailure(e, address, null, anonymous);
    } else if (kind === 'request') {
      const d = e.data as RequestData;
      if (d.category !== 'mutation') return;
      if (this.rules.deniedMutations && (d.decision.outcome === 'deny' || d.decision.outcome === 'partial')) {
        this.notify({ rule: 'denied-mutation', message: `${d.principal ?? 'anonymous'} was denied ${d.api} on ${d.resources.map((r) => r.name).join(', ') || '-'}`, event: e });
      }
      if (this.critical.length > 0) {
        const hit = d.resources.filter((r) => r.type === 'topic' && (r.allowed ?? true) && this.critical.some((re) => re.test(r.name)));
        if (hit.length > 0) {
          this.notify({ rule: 'critical-topic', message: `${d.principal ?? 'anonymous'} ran ${d.api} on critical topic ${[...new Set(hit.map((r) => r.name))].join(', ')}`, event: e });
        }
      }
    }
  }

  /** `n` authentication failures from an address (if known) claiming a name (if any). */
  private authFailure(e: AuditEvent, address: string | undefined, claimed: string | null, n: number): void {
    const rule = this.rules.authFailures;
    if (!rule) return;
    const keys: string[] = [];
    if (rule.by.includes('address') && address) keys.push(`address ${address}`);
    if (rule.by.includes('principal') && claimed) keys.push(`principal ${claimed}`);
    const now = this.now();
    for (const key of keys) {
      // A summary's count: enough hits to reach the threshold, not one per failure.
      let entry = this.failures!.hit(key, now);
      for (let i = Math.min(n, rule.threshold) - 1; i > 0; i--) entry = this.failures!.hit(key, now);
      if (entry.times.length >= rule.threshold && (entry.firedAt === null || entry.firedAt <= now - rule.windowMs)) {
        entry.firedAt = now;
        this.notify({ rule: 'auth-failures', message: `${entry.times.length} authentication failures from ${key} within ${Math.round(rule.windowMs / 1000)} s`, event: e });
      }
    }
  }
}
