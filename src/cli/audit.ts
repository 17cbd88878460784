/**
 * `gatehouse audit sessions|replay|tail|verify`: the audit topic for people. Every command reads
 * the topic named in the config file's audit section (or --audit-topic) with the proxy's own
 * connection settings, seeks by time (--since; default the last 24 hours for sessions and
 * replay) and prints progress to stderr on long reads.
 */
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.js';
import { verifyChain, type StoredMessage } from '../audit/chain.js';
import { kindOf, type AuditEvent, type AuthenticatedData, type AuthenticationFailedData, type RequestData, type SessionClosedData, type SessionOpenedData, type SessionsSummaryData } from '../audit/events.js';
import { kafkaFromConfig } from '../audit/kafka-client.js';
import { judgeCodes, normalStep } from '../audit/normal-errors.js';
import { readAuditTopic } from '../audit/reader.js';

export const AUDIT_HELP = `Audit commands (read the audit topic with the config file's connection settings):
  gatehouse audit sessions --config FILE [filters] [--json]
                         List sessions. Filters: --principal P, --client ADDRESS, --topic T,
                         --since TIME, --until TIME, --outcome ok|auth-failed|denied|error
  gatehouse audit replay SESSION... --config FILE [--since TIME] [--json]
                         Sessions as a timeline: auth, each request, decision, outcome, timing
                         (several sessions are merged in order, each line naming its session)
  gatehouse audit tail --config FILE [--since TIME] [--json]
                         Follow new events as they are written (Ctrl-C stops)
  gatehouse audit verify --config FILE [--since TIME] [--json]
                         Check every instance's hash chain: gaps, reordering, duplicates and
                         altered events, with their offsets; exit code 1 on any break
  TIME: an ISO date/time, milliseconds since the epoch, or a duration ago (30s, 15m, 2h, 7d);
  "all" reads from the start. Default --since: 24h for sessions and replay, all for verify.
  --audit-topic NAME reads another topic (e.g. a copy) than the config's audit.topic.`;

export class AuditUsageError extends Error {}

export function parseTime(s: string, now = Date.now()): number | undefined {
  if (s === 'all' || s === 'beginning') return undefined;
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s);
  if (rel) return now - Number(rel[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'ms']!;
  if (/^\d{10,}$/.test(s)) return Number(s);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new AuditUsageError(`cannot read "${s}" as a time (ISO date, epoch ms, or 30s/15m/2h/7d)`);
  return t;
}

interface Common {
  config: string;
  since: number | 'start' | undefined;
  json: boolean;
  topic: string;
}

function parseEvent(m: StoredMessage): AuditEvent | undefined {
  try {
    const e = m.value ? (JSON.parse(m.value) as AuditEvent) : undefined;
    return e && typeof e.type === 'string' && kindOf(e.type) ? e : undefined;
  } catch {
    return undefined;
  }
}

async function* events(c: Common, follow = false, signal?: AbortSignal): AsyncGenerator<{ m: StoredMessage; e: AuditEvent | undefined }> {
  const config = loadConfigFile(c.config);
  const kafka = kafkaFromConfig(config, 'gatehouse-audit-cli');
  const isTty = process.stderr.isTTY;
  let shown = false;
  const started = Date.now();
  for await (const m of readAuditTopic(kafka, {
    topic: c.topic,
    since: c.since,
    follow,
    ...(signal ? { signal } : {}),
    onProgress: (read, total) => {
      if (Date.now() - started < 1000 && !shown) return;
      shown = true;
      const pct = total ? Math.floor((read * 100) / total) : 100;
      process.stderr.write(`${isTty ? '\r' : ''}reading ${c.topic}: ${read}/${total} events (${pct}%)${isTty ? '' : '\n'}`);
    },
  })) {
    yield { m, e: parseEvent(m) };
  }
  if (shown && isTty) process.stderr.write('\n');
}

function common(values: Record<string, unknown>, defaultSince: string): Common {
  if (typeof values.config !== 'string') throw new AuditUsageError('needs --config FILE');
  const config = loadConfigFile(values.config);
  if (!config.audit && typeof values['audit-topic'] !== 'string') throw new AuditUsageError(`${values.config} has no audit section (or give --audit-topic)`);
  return {
    config: values.config,
    since: parseTime(typeof values.since === 'string' ? values.since : defaultSince),
    json: values.json === true,
    topic: typeof values['audit-topic'] === 'string' ? values['audit-topic'] : config.audit!.topic,
  };
}

const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c' },
  since: { type: 'string' },
  json: { type: 'boolean' },
  'audit-topic': { type: 'string' },
} as const;

// ---- sessions ----

export interface SessionSummary {
  sessionId: string;
  principal: string | null;
  client: string | null;
  listener: string | null;
  clientSoftware: string | null;
  openedAt: string | null;
  closedAt: string | null;
  closeReason: string | null;
  requests: number;
  topics: string[];
  authFailures: number;
  denied: number;
  /** Requests answered with an error that is not a normal protocol step (normal-errors.ts). */
  errors: number;
  outcome: 'ok' | 'auth-failed' | 'denied' | 'error';
}

/** A session's summary, built one event at a time (a long read keeps no events in memory). */
class Summary {
  private readonly s: SessionSummary;
  private readonly topics = new Set<string>();
  firstTime: string | undefined;

  constructor(sessionId: string) {
    this.s = {
      sessionId, principal: null, client: null, listener: null, clientSoftware: null, openedAt: null, closedAt: null, closeReason: null,
      requests: 0, topics: [], authFailures: 0, denied: 0, errors: 0, outcome: 'ok',
    };
  }

  add(e: AuditEvent): void {
    const s = this.s;
    if (!this.firstTime || e.time < this.firstTime) this.firstTime = e.time;
    const k = kindOf(e.type);
    if (k === 'session.opened') {
      const d = e.data as SessionOpenedData;
      s.client = `${d.client.address}:${d.client.port}`;
      s.listener = d.listener;
      s.openedAt = d.openedAt;
      if (d.clientSoftware) s.clientSoftware = `${d.clientSoftware.name} ${d.clientSoftware.version}`;
    } else if (k === 'session.authenticated' || k === 'session.reauthenticated') {
      s.principal = (e.data as AuthenticatedData).principal;
    } else if (k === 'session.authentication_failed') {
      s.authFailures++;
    } else if (k === 'request') {
      const d = e.data as RequestData;
      s.requests++;
      s.principal ??= d.principal;
      for (const r of d.resources) if (r.type === 'topic') this.topics.add(r.name);
      for (const p of d.produced ?? []) this.topics.add(p.topic);
      for (const p of d.fetched ?? []) this.topics.add(p.topic);
      if (d.clientSoftware && !s.clientSoftware) s.clientSoftware = `${d.clientSoftware.name} ${d.clientSoftware.version}`;
      if (d.decision.outcome === 'deny' || d.decision.outcome === 'partial' || d.decision.outcome === 'refused-audit') s.denied++;
      else if (judgeCodes(d.api, d.errorCodes).failures.length > 0) s.errors++;
    } else if (k === 'session.closed') {
      const d = e.data as SessionClosedData;
      s.closedAt = e.time;
      s.closeReason = d.reason;
      s.principal ??= d.principal;
      if (!s.clientSoftware && d.clientSoftware) s.clientSoftware = `${d.clientSoftware.name} ${d.clientSoftware.version}`;
    }
  }

  result(): SessionSummary {
    const s = { ...this.s, topics: [...this.topics].sort() };
    s.outcome = s.authFailures > 0 && !s.principal ? 'auth-failed' : s.denied > 0 ? 'denied' : s.errors > 0 ? 'error' : 'ok';
    return s;
  }
}

export function summarize(list: AuditEvent[]): SessionSummary {
  const sum = new Summary(list[0]!.subject);
  for (const e of list) sum.add(e);
  return sum.result();
}

async function sessions(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...COMMON_OPTIONS, principal: { type: 'string' }, client: { type: 'string' }, topic: { type: 'string' }, until: { type: 'string' }, outcome: { type: 'string' } },
  });
  const c = common(values, '24h');
  const until = typeof values.until === 'string' ? parseTime(values.until) : undefined;
  const bySession = new Map<string, Summary>();
  // Unauthenticated sessions counted rather than recorded in full, by client address.
  const summarised = new Map<string, number>();
  for await (const { e } of events(c)) {
    if (!e || kindOf(e.type) === 'checkpoint') continue;
    if (kindOf(e.type) === 'sessions.summary') {
      const d = e.data as SessionsSummaryData;
      if (!values.client || d.address.startsWith(values.client)) summarised.set(d.address, (summarised.get(d.address) ?? 0) + d.connections);
      continue;
    }
    let sum = bySession.get(e.subject);
    if (!sum) bySession.set(e.subject, (sum = new Summary(e.subject)));
    sum.add(e);
  }
  const rows: SessionSummary[] = [];
  for (const sum of bySession.values()) {
    const s = sum.result();
    if (values.principal && s.principal !== values.principal) continue;
    if (values.client && !(s.client ?? '').startsWith(values.client)) continue;
    if (values.topic && !s.topics.includes(values.topic)) continue;
    if (values.outcome && s.outcome !== values.outcome) continue;
    const opened = Date.parse(s.openedAt ?? sum.firstTime ?? '');
    if (until !== undefined && opened > until) continue;
    rows.push(s);
  }
  rows.sort((a, b) => (a.openedAt ?? '').localeCompare(b.openedAt ?? ''));
  if (c.json) {
    for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
  } else {
    const header = ['OPENED', 'SESSION', 'PRINCIPAL', 'CLIENT', 'REQUESTS', 'OUTCOME', 'TOPICS'];
    const table = rows.map((r) => [r.openedAt ?? '-', r.sessionId, r.principal ?? '-', r.client ?? '-', String(r.requests), r.outcome, r.topics.join(',') || '-']);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
    for (const line of [header, ...table]) process.stdout.write(`${line.map((x, i) => (i === line.length - 1 ? x : x.padEnd(widths[i]!))).join('  ')}\n`);
    process.stderr.write(`${rows.length} session(s)\n`);
  }
  // Not sessions of their own: said on stderr, so that --json output stays one session per line.
  for (const [address, n] of summarised) {
    process.stderr.write(`${n} unauthenticated connection(s) from ${address === '*' ? 'further addresses' : address} counted in summaries, not listed (gatehouse audit tail --since … shows them)\n`);
  }
  return 0;
}

// ---- replay ----

export function describe(e: AuditEvent): string {
  const k = kindOf(e.type);
  switch (k) {
    case 'session.opened': {
      const d = e.data as SessionOpenedData;
      return `opened from ${d.client.address}:${d.client.port} on ${d.listener}${d.clientSoftware ? ` (${d.clientSoftware.name} ${d.clientSoftware.version})` : ''}${d.tls ? ' TLS' : ''}`;
    }
    case 'session.authenticated':
    case 'session.reauthenticated': {
      const d = e.data as AuthenticatedData;
      return `${k === 'session.reauthenticated' ? 're-authenticated' : 'authenticated'} as ${d.principal} (${d.mechanism}, issuer ${d.issuer}, groups [${d.groups.join(', ')}], token until ${d.tokenExpiresAt ?? 'no expiry'})`;
    }
    case 'session.authentication_failed': {
      const d = e.data as AuthenticationFailedData;
      return `authentication FAILED (error ${d.errorCode}): ${d.reason}`;
    }
    case 'request': {
      const d = e.data as RequestData;
      const res = [...new Set(d.resources.map((r) => `${r.type} ${r.name}`))];
      const decision = d.decision.outcome === 'none' ? '' : ` decision ${d.decision.outcome}${d.decision.rule ? ` (${d.decision.rule})` : ''}`;
      const { failures, steps } = judgeCodes(d.api, d.errorCodes);
      const outcome = [failures.length ? `errors ${failures.join(',')}` : '', steps.length ? `retry ${steps.join(',')}` : ''].filter(Boolean).join(', ') || 'ok';
      let line = `${d.api} v${d.apiVersion} #${d.correlationId}${d.operation ? ` ${d.operation}` : ''}${res.length ? ` on ${res.slice(0, 6).join(', ')}${res.length > 6 ? ` (+${res.length - 6})` : ''}` : ''}${decision} → ${outcome} (${d.latencyMs} ms, ${d.bytesIn} B in, ${d.bytesOut} B out)`;
      const code = (c: number): string => {
        const step = normalStep(c, d.api);
        return step ? `retry ${step.name}` : `error ${c}`;
      };
      for (const p of d.produced ?? []) line += `\n      wrote ${p.topic}[${p.partition}]: ${p.records} record(s)${p.baseOffset >= 0 ? ` at offsets ${p.baseOffset}-${p.baseOffset + p.records - 1}` : ` (${code(p.errorCode)})`}`;
      for (const p of d.fetched ?? []) if (p.records > 0 || p.errorCode !== 0) line += `\n      read ${p.topic}[${p.partition}]: ${p.records} record(s)${p.firstOffset !== null ? ` offsets ${p.firstOffset}-${p.lastOffset}` : ''}${p.errorCode ? ` (${code(p.errorCode)})` : ''}`;
      return line;
    }
    case 'session.closed': {
      const d = e.data as SessionClosedData;
      return `closed: ${d.reason} after ${d.durationMs} ms, ${d.requests} request(s), ${d.bytesIn} B in, ${d.bytesOut} B out${d.eventsNotRecorded ? ` (${d.eventsNotRecorded} request(s) before authentication not recorded one by one)` : ''}`;
    }
    case 'sessions.summary': {
      const d = e.data as SessionsSummaryData;
      const reasons = Object.entries(d.failedLogins.byReason).map(([r, n]) => `${n}× ${r}`).join('; ');
      return `${d.connections} more unauthenticated connection(s) from ${d.address === '*' ? 'further addresses' : d.address} (after ${d.recordedInFull} in full), ${d.windowStart.slice(11, 19)}–${d.windowEnd.slice(11, 19)}: ${d.failedLogins.count} failed login(s)${reasons ? ` (${reasons})` : ''}, ${d.requests} request(s), ${d.bytesIn} B in, ${d.bytesOut} B out`;
    }
    default:
      return e.type;
  }
}

async function replay(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: COMMON_OPTIONS, allowPositionals: true });
  if (positionals.length === 0) throw new AuditUsageError('replay needs a SESSION id (see gatehouse audit sessions)');
  const wanted = new Set(positionals);
  const c = common(values, '24h');
  const list: AuditEvent[] = [];
  for await (const { e } of events(c)) if (e && wanted.has(e.subject)) list.push(e);
  // One chain per proxy instance: seq orders its events; sessions of several instances by time.
  list.sort((a, b) => (a.instance === b.instance ? a.seq - b.seq : a.time.localeCompare(b.time)));
  if (list.length === 0) {
    const since = typeof c.since === 'number' ? new Date(c.since).toISOString() : 'the start';
    process.stderr.write(`no events of ${[...wanted].join(', ')} since ${since} (try --since)\n`);
    return 1;
  }
  if (c.json) {
    for (const e of list) process.stdout.write(`${JSON.stringify(e)}\n`);
    return 0;
  }
  const t0 = Date.parse(list[0]!.time);
  const several = wanted.size > 1;
  for (const id of wanted) {
    const mine = list.filter((e) => e.subject === id);
    if (mine.length === 0) {
      process.stdout.write(`session ${id}: no events in this window\n`);
      continue;
    }
    const s = summarize(mine);
    process.stdout.write(`session ${id}: ${s.principal ?? 'unauthenticated'} from ${s.client ?? '?'}, ${s.requests} request(s), outcome ${s.outcome}\n`);
  }
  for (const e of list) {
    const dt = Date.parse(e.time) - t0;
    process.stdout.write(`${e.time.slice(11, 23)}  +${String(dt).padStart(6)} ms  ${several ? `${e.subject}  ` : ''}${describe(e)}\n`);
  }
  return 0;
}

// ---- tail ----

async function tail(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: COMMON_OPTIONS });
  // Without --since: new events only; --since all: from the start.
  const c = { ...common(values, 'all'), since: typeof values.since === 'string' ? (parseTime(values.since) ?? ('start' as const)) : undefined };
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for await (const { e, m } of events(c, true, ac.signal)) {
      if (!e) {
        process.stdout.write(`(partition ${m.partition} offset ${m.offset}: not an audit event)\n`);
        continue;
      }
      if (c.json) process.stdout.write(`${JSON.stringify(e)}\n`);
      else process.stdout.write(`${e.time}  ${e.subject}  ${describe(e)}\n`);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return 0;
}

// ---- verify ----

async function verify(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: COMMON_OPTIONS });
  const c = common(values, 'all');
  const messages: StoredMessage[] = [];
  for await (const { m } of events(c)) messages.push(m);
  const report = verifyChain(messages, { fromStart: c.since === undefined });
  if (c.json) {
    process.stdout.write(`${JSON.stringify({ ok: report.problems.length === 0, ...report })}\n`);
  } else {
    for (const [instance, i] of Object.entries(report.instances)) {
      process.stdout.write(`instance ${instance}: seq ${i.first}..${i.last}, ${i.events} event(s), ${i.checkpoints} checkpoint(s)\n`);
    }
    for (const p of report.problems) process.stdout.write(`${p.kind.toUpperCase()}: ${p.message}\n`);
    process.stdout.write(report.problems.length === 0 ? `OK: ${report.events} event(s), chains intact\n` : `FAILED: ${report.problems.length} problem(s) in ${report.events} event(s)\n`);
  }
  return report.problems.length === 0 ? 0 : 1;
}

export async function auditCommand(args: string[]): Promise<number> {
  try {
    return await auditSubcommand(args);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) throw new AuditUsageError(e.message);
    // The audit cluster cannot be read: one line, not a stack trace.
    if (typeof e.name === 'string' && e.name.startsWith('KafkaJS')) throw new AuditUsageError(`cannot read the audit topic: ${e.message}`);
    throw err;
  }
}

async function auditSubcommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'sessions':
      return sessions(rest);
    case 'replay':
      return replay(rest);
    case 'tail':
      return tail(rest);
    case 'verify':
      return verify(rest);
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(`${AUDIT_HELP}\n`);
      return 0;
    default:
      throw new AuditUsageError(`unknown audit command "${sub}" (sessions, replay, tail, verify)`);
  }
}
