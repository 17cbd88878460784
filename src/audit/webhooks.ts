/**
 * Webhooks for people: Slack and Microsoft Teams get a readable message (who, what action, which
 * resource, cluster, decision); a generic HTTP endpoint gets the CloudEvent itself
 * (application/cloudevents+json) signed with HMAC-SHA256. Configured as in Kpow's convention
 * (WEBHOOK_PROVIDER, WEBHOOK_URL, WEBHOOK_VERBOSITY) or in the config's audit.webhooks list.
 *
 * Verbosity: MUTATIONS (default) sends requests that change state; QUERIES adds requests that
 * read data or describe resources (not the protocol's housekeeping: ApiVersions, Metadata,
 * heartbeats, empty fetches…); ALL sends every event, session events included. Alerts are
 * sent to every destination whatever its verbosity.
 *
 * Each destination has its own bounded queue and one sender; a failed POST is retried with
 * exponential backoff. Nothing here is awaited by the data path or the audit topic's sink: a
 * slow or dead webhook only fills (then trims) its own queue.
 *
 * What a client or its token chose (principals, claimed names, resource names, reasons) reaches
 * Slack and Teams as text: clipped, and escaped for each one's markup (markup.ts). The generic
 * webhook carries the raw values as JSON data.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { kindOf, type AuditEvent, type RequestData } from './events.js';
import { clip, slackText, teamsText } from './markup.js';
import { judgeCodes } from './normal-errors.js';

export type WebhookProvider = 'slack' | 'teams' | 'generic';
export type WebhookVerbosity = 'MUTATIONS' | 'QUERIES' | 'ALL';

export interface WebhookDestination {
  provider: WebhookProvider;
  url: string;
  verbosity: WebhookVerbosity;
  /** HMAC key for the generic provider's signature header. */
  secret?: string | undefined;
}

export interface WebhookOptions {
  /** A name for the cluster in messages. */
  cluster: string;
  log?: Logger | undefined;
  maxQueue?: number;
  maxAttempts?: number;
  retryMinMs?: number;
  timeoutMs?: number;
}

export interface AlertNotice {
  rule: string;
  message: string;
  event: AuditEvent;
}

export const SIGNATURE_HEADER = 'x-gatehouse-signature';
export const TIMESTAMP_HEADER = 'x-gatehouse-timestamp';

/** The signature of a generic webhook body: "sha256=" + hex HMAC-SHA256 over "<timestamp>.<body>". */
export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Read requests worth telling people about at QUERIES. */
const QUERY_APIS = new Set([
  'Fetch', 'ListOffsets', 'OffsetFetch', 'DescribeConfigs', 'DescribeGroups', 'ListGroups', 'DescribeAcls', 'DescribeCluster',
  'DescribeProducers', 'DescribeTransactions', 'ListTransactions', 'ConsumerGroupDescribe', 'DescribeLogDirs', 'DescribeUserScramCredentials',
  'ShareGroupDescribe', 'DescribeClientQuotas',
]);

export function selects(verbosity: WebhookVerbosity, e: AuditEvent): boolean {
  if (verbosity === 'ALL') return true;
  if (kindOf(e.type) !== 'request') return false;
  const d = e.data as RequestData;
  if (d.category === 'mutation') return true;
  if (verbosity !== 'QUERIES' || !QUERY_APIS.has(d.api)) return false;
  if (d.api === 'Fetch') return (d.fetched ?? []).some((f) => f.records > 0);
  return true;
}

/**
 * Bounds on what a client chose, in characters before escaping (which can make one character
 * five): a Slack section's text takes 3000 and a field 2000, and a refused message loses its alert.
 */
const NAME_MAX = 100;
const RESOURCE_MAX = 80;
const REASON_MAX = 300;
const ALERT_MAX = 400;

function resourcesText(d: RequestData): string {
  if (d.resources.length === 0) return '-';
  const names = d.resources.map((r) => `${r.type} ${clip(r.name, RESOURCE_MAX)}`);
  const uniq = [...new Set(names)];
  return uniq.length > 5 ? `${uniq.slice(0, 5).join(', ')} (+${uniq.length - 5} more)` : uniq.join(', ');
}

/**
 * Who / what / which resource / cluster / decision, as lines of plain text (what a client chose
 * clipped, nothing escaped). `headline` is in the proxy's own words only (API, operation, kind).
 */
export function describeEvent(e: AuditEvent, cluster: string): { title: string; headline: string; facts: Array<[string, string]> } {
  const kind = kindOf(e.type) ?? e.type;
  const d = e.data as unknown as Record<string, unknown>;
  if (kind === 'request') {
    const r = e.data as RequestData;
    const { failures, steps } = judgeCodes(r.api, r.errorCodes);
    const answered = failures.length ? `error ${failures.join(',')}` : `allowed${steps.length ? ` (retry ${steps.join(', ')})` : ''}`;
    const outcome = r.decision.outcome === 'none' ? answered : r.decision.outcome;
    const who = clip(r.principal ?? 'anonymous', NAME_MAX);
    const action = `${r.api}${r.operation ? ` (${r.operation})` : ''}`;
    return {
      title: `${who}: ${action} on ${resourcesText(r)}`,
      headline: action,
      facts: [
        ['Who', who],
        ['Action', `${r.api} v${r.apiVersion}${r.operation ? ` (${r.operation})` : ''}`],
        ['Resource', resourcesText(r)],
        ['Cluster', cluster],
        ['Decision', `${outcome}${r.decision.rule ? ` (rule ${r.decision.rule})` : ''}`],
        ['Session', r.sessionId],
        ['Time', e.time],
      ],
    };
  }
  const who = typeof d.principal === 'string' ? clip(d.principal, NAME_MAX) : null;
  return {
    title: `${kind}${who !== null ? ` of ${who}` : ''}`,
    headline: kind,
    facts: [
      ['Who', who ?? '-'],
      ['Event', kind],
      ['Cluster', cluster],
      ['Session', e.subject],
      ['Time', e.time],
      ...(typeof d.reason === 'string' ? ([['Reason', clip(d.reason, REASON_MAX)]] as Array<[string, string]>) : []),
    ],
  };
}

/**
 * Slack: the head line in one section, the facts as another's fields, every value escaped
 * (markup.ts); `verbatim`, so Slack neither links URLs nor parses mentions in them, and no link
 * unfurling. `text` (notifications, older clients) has the same lines.
 */
export function slackMessage(e: AuditEvent, cluster: string, alert?: AlertNotice): unknown {
  const { title, facts } = describeEvent(e, cluster);
  const head = alert ? `:rotating_light: *Alert ${alert.rule}*: ${slackText(clip(alert.message, ALERT_MAX))}` : `*${slackText(title)}*`;
  const lines = facts.map(([k, v]) => [k, slackText(v)] as const);
  const text = [head, ...lines.map(([k, v]) => `• *${k}:* ${v}`)].join('\n');
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: head, verbatim: true } },
      { type: 'section', fields: lines.map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}:*\n${v}`, verbatim: true })) },
    ],
    unfurl_links: false,
    unfurl_media: false,
  };
}

/**
 * Teams (a connector card): title and summary in the proxy's own words only (Teams may show them
 * without Markdown, where an escape would be seen); what a client chose goes in the facts and
 * the alert's text, escaped for Markdown and HTML (markup.ts).
 */
export function teamsMessage(e: AuditEvent, cluster: string, alert?: AlertNotice): unknown {
  const { headline, facts } = describeEvent(e, cluster);
  return {
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    summary: alert ? `Alert ${alert.rule}` : headline,
    themeColor: alert ? 'D70000' : '0076D7',
    title: alert ? `Alert ${alert.rule}` : headline,
    ...(alert ? { text: teamsText(clip(alert.message, ALERT_MAX)) } : {}),
    sections: [{ facts: facts.map(([name, value]) => ({ name, value: teamsText(value) })) }],
  };
}

interface Job {
  body: string;
  headers: Record<string, string>;
}

class Destination {
  private readonly queue: Job[] = [];
  private sending = false;
  dropped = 0;
  delivered = 0;
  failed = 0;

  constructor(
    readonly d: WebhookDestination,
    private readonly opts: WebhookOptions,
  ) {}

  push(job: Job): void {
    const max = this.opts.maxQueue ?? 1000;
    if (this.queue.length >= max) {
      this.queue.shift();
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 100 === 0) {
        this.opts.log?.warn({ code: 'GH_WEBHOOK_BACKLOG', provider: this.d.provider, dropped: this.dropped }, 'webhook queue full: oldest messages dropped (the audit topic has them)');
      }
    }
    this.queue.push(job);
    if (!this.sending) {
      this.sending = true;
      setImmediate(() => void this.run());
    }
  }

  get idle(): boolean {
    return !this.sending && this.queue.length === 0;
  }

  private async run(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const job = this.queue.shift()!;
        await this.deliver(job);
      }
    } finally {
      this.sending = false;
    }
  }

  private async deliver(job: Job): Promise<void> {
    const attempts = this.opts.maxAttempts ?? 5;
    let wait = this.opts.retryMinMs ?? 500;
    for (let i = 1; i <= attempts; i++) {
      try {
        const res = await fetch(this.d.url, { method: 'POST', headers: job.headers, body: job.body, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.delivered++;
          return;
        }
        if (res.status < 500 && res.status !== 429 && res.status !== 408) throw new Error(`HTTP ${res.status} (not retried)`);
        if (i === attempts) throw new Error(`HTTP ${res.status}`);
      } catch (err) {
        if (i === attempts || /not retried/.test((err as Error).message)) {
          this.failed++;
          this.opts.log?.warn({ code: 'GH_WEBHOOK_FAILED', provider: this.d.provider, attempts: i, err: (err as Error).message }, 'webhook delivery failed');
          return;
        }
      }
      await new Promise((r) => setTimeout(r, wait).unref());
      wait = Math.min(wait * 2, 30_000);
    }
  }
}

export class Webhooks {
  private readonly destinations: Destination[];

  constructor(destinations: readonly WebhookDestination[], private readonly opts: WebhookOptions) {
    this.destinations = destinations.map((d) => new Destination(d, opts));
  }

  get size(): number {
    return this.destinations.length;
  }

  /** Queues the event for every destination whose verbosity selects it. Never waits. */
  onEvent(e: AuditEvent): void {
    for (const dest of this.destinations) if (selects(dest.d.verbosity, e)) dest.push(this.job(dest.d, e));
  }

  onAlert(a: AlertNotice): void {
    for (const dest of this.destinations) dest.push(this.job(dest.d, a.event, a));
  }

  /** Resolves when every queue is empty (tests, shutdown), or after timeoutMs. */
  async idle(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.destinations.every((d) => d.idle) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  private job(d: WebhookDestination, e: AuditEvent, alert?: AlertNotice): Job {
    if (d.provider === 'slack') return { body: JSON.stringify(slackMessage(e, this.opts.cluster, alert)), headers: { 'content-type': 'application/json' } };
    if (d.provider === 'teams') return { body: JSON.stringify(teamsMessage(e, this.opts.cluster, alert)), headers: { 'content-type': 'application/json' } };
    const body = JSON.stringify(alert ? { ...e, gatehousealert: alert.rule, gatehousealertmessage: alert.message } : e);
    const ts = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = { 'content-type': 'application/cloudevents+json', [TIMESTAMP_HEADER]: ts };
    if (d.secret) headers[SIGNATURE_HEADER] = signBody(d.secret, ts, body);
    return { body, headers };
  }
}

/** The destination the WEBHOOK_* environment variables describe (Kpow's convention), if any. */
export function webhookFromEnv(env: NodeJS.ProcessEnv): WebhookDestination | undefined {
  const url = env.WEBHOOK_URL;
  if (!url) return undefined;
  const provider = (env.WEBHOOK_PROVIDER ?? 'generic').toLowerCase();
  if (provider !== 'slack' && provider !== 'teams' && provider !== 'generic') throw new Error(`WEBHOOK_PROVIDER must be slack, teams or generic, not "${provider}"`);
  const verbosity = (env.WEBHOOK_VERBOSITY ?? 'MUTATIONS').toUpperCase();
  if (verbosity !== 'MUTATIONS' && verbosity !== 'QUERIES' && verbosity !== 'ALL') throw new Error(`WEBHOOK_VERBOSITY must be MUTATIONS, QUERIES or ALL, not "${verbosity}"`);
  return { provider, url, verbosity, secret: env.WEBHOOK_SECRET || undefined };
}
