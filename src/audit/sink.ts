/**
 * Delivery of audit events to the audit topic without loss.
 *
 * Events are queued in the order they happen and sent by one loop, a batch at a time, with the
 * proxy's own kafkajs producer (acks=all, idempotent, one request in flight). A batch that fails
 * is retried exactly as it was (same messages, same partitions, same producer: the broker's
 * idempotence drops a copy that had landed after all). While the topic cannot be reached, the
 * queue moves to the bounded disk spool (spool.ts) and new events follow it there; once the
 * topic is back the spool is sent in order, then the queue lives in memory again.
 *
 * A batch from memory waits a little for company (lingerMs from its first event, unless it fills
 * or a flush asks for it now): a sequential client makes one event per round trip, and each send
 * costs the producer far more than each event in it. Clients never wait for the sink.
 *
 * fail-open: clients go on while the spool has room; when it is full, events are dropped, counted
 * and logged as errors (GH_AUDIT_SPOOL_FULL), and the chain shows the gap.
 * fail-closed: accepts(session) says whether the events that matter for a request of that session
 * can be made durable now, else the recorder refuses the request with a retriable error. They
 * cannot while the topic is unreachable (the last attempt to send failed) or while an event could
 * not be kept (the memory queue is full and the spool has no room); after the topic was away, not
 * until the events that matter for the request that were spooled meanwhile are on the topic: the
 * session's own events and every mutation's event (what a previous run left in the spool, all of
 * it). Events of sessions that never authenticated and their summaries (appended as `background`)
 * never hold a request back, however many wait.
 */
import type { Logger } from 'pino';
import kafkajs from 'kafkajs';
import type { Kafka, Producer, Admin } from 'kafkajs';
import { Spool, type SpoolEntry } from './spool.js';
import { kindOf, type AuditEvent } from './events.js';
import { auditMetrics } from './metrics.js';

const { Partitioners } = kafkajs;

export type AuditMode = 'fail-open' | 'fail-closed';

/** Where batches go: the audit topic (KafkaTransport), or a test double. */
export interface AuditTransport {
  start?(): Promise<void>;
  /** Sends the entries in order; resolves once all are acknowledged by all in-sync replicas. */
  send(entries: readonly SpoolEntry[]): Promise<void>;
  close?(): Promise<void>;
}

export interface SinkOptions {
  transport: AuditTransport;
  mode: AuditMode;
  spoolDir: string;
  spoolMaxBytes: number;
  /** Events kept in memory before the queue goes to disk even while the topic is reachable. */
  memoryEvents?: number;
  batchSize?: number;
  /**
   * How long a batch from memory may wait for more events after its first one was queued (as the
   * Kafka producer's linger.ms); 0: sent at once. Default 20 ms: a send costs the producer about as
   * much CPU as tens of events in it. A full batch, flush() and close() do not wait.
   */
  lingerMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  log?: Logger;
  /** Called with each event once it is on the audit topic (webhooks, alerts, tests). */
  onDelivered?: (entries: readonly SpoolEntry[]) => void;
}

/** What an event is owed to in fail-closed mode, if it is not spooled in time: its session, and every mutation if it is one. */
interface Owes {
  session: string;
  mutation: boolean;
}

/** An event queued in memory, with when it was queued (performance.now()). */
interface QueuedEntry extends SpoolEntry {
  at: number;
  /** undefined: a background event (an unauthenticated session's, a summary). */
  owes: Owes | undefined;
}

export interface AppendOptions {
  /** An event of a session that never authenticated, or a summary of such sessions: it never holds a request back in fail-closed mode. */
  background?: boolean;
}

/** Room the spool must have left for the sink to count as able to keep an event. */
const ROOM_BYTES = 256 * 1024;

function owesOf(event: AuditEvent, opts: AppendOptions | undefined): Owes | undefined {
  if (opts?.background) return undefined;
  const mutation = kindOf(event.type) === 'request' && (event.data as { category?: unknown } | null)?.category === 'mutation';
  return { session: event.subject, mutation };
}

export class AuditSink {
  private readonly spool: Spool;
  private memory: QueuedEntry[] = [];
  private inflight: { entries: SpoolEntry[]; from: 'memory' | 'spool' } | undefined;
  private running: Promise<void> | undefined;
  private degradedSince: number | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private lastLoud = 0;
  private lastBacklogLog = 0;
  /** The loop waiting for a batch to fill (lingerMs): its timer and how to end the wait early. */
  private lingering: { timer: NodeJS.Timeout; done: () => void } | undefined;
  /** The event at the head of memory when the loop last lingered: a batch lingers once. */
  private lingeredFor: QueuedEntry | undefined;
  /** flush() calls waiting: batches go at once meanwhile. */
  private flushing = 0;
  private readonly lingerMs: number;
  private readonly batchSize: number;
  private readonly memoryLimit: number;
  readonly stats = { appended: 0, delivered: 0, dropped: 0, failures: 0 };
  /** The last attempt to send failed (cleared by the next success). */
  private unreachable = false;
  /**
   * fail-closed bookkeeping, as spool positions (entry ends, bytes): events that matter, spooled
   * since the topic was away, wait up to there — every session's (owedAll: a previous run's
   * spool, or what was already spooled when the topic went away), mutations', one session's.
   * Cleared when the spool is empty.
   */
  private owedAll = 0;
  private owedMutations = 0;
  private readonly owedSessions = new Map<string, number>();
  /** The end of the last event in the spool that is not background. */
  private mattersSpooledUntil = 0;

  constructor(private readonly opts: SinkOptions) {
    this.spool = new Spool(opts.spoolDir, opts.spoolMaxBytes);
    this.lingerMs = opts.lingerMs ?? 20;
    this.batchSize = opts.batchSize ?? 500;
    this.memoryLimit = opts.memoryEvents ?? 10_000;
    // What a previous run left: all of it matters (nobody knows whose it is).
    this.owedAll = this.mattersSpooledUntil = this.spool.end;
    if (this.spool.pending > 0) {
      opts.log?.warn({ code: 'GH_AUDIT_SPOOLED', events: this.spool.pending }, 'audit spool holds events from before: sending them first');
    }
    auditMetrics.register(this);
  }

  get mode(): AuditMode {
    return this.opts.mode;
  }

  /** Events not yet on the audit topic. */
  get backlog(): number {
    return this.memory.length + this.spool.pending;
  }

  get spooled(): number {
    return this.spool.pending;
  }

  get spooledBytes(): number {
    return this.spool.pendingBytes;
  }

  /** The topic could not be reached at the last attempt. */
  get degraded(): boolean {
    return this.degradedSince !== undefined;
  }

  /** accepts() for a session none of whose events wait: whether the topic takes events and none that matter to everyone are owed. */
  get accepting(): boolean {
    return this.accepts();
  }

  /**
   * fail-closed: whether the events that matter for a request of `sessionId` can be made durable
   * now — the topic is reachable, a new event can be kept, and none of the session's own events
   * nor any mutation's event spooled while the topic was away still waits (a previous run's
   * spool: none of it). Background events waiting never count.
   */
  accepts(sessionId?: string): boolean {
    if (this.unreachable || !this.hasRoom()) return false;
    const at = this.spool.delivered;
    if (at < this.owedAll || at < this.owedMutations) return false;
    return sessionId === undefined || (this.owedSessions.get(sessionId) ?? 0) <= at;
  }

  /** Events go to the spool now (the topic is away or behind): unauthenticated sessions are then only counted (summariser.ts). */
  get pressed(): boolean {
    return this.unreachable || this.spool.pending > 0;
  }

  /** Whether an event appended now would be kept (in memory, or in the spool with room to spare). */
  private hasRoom(): boolean {
    if (this.spool.pending === 0 && this.degradedSince === undefined && this.memory.length < this.memoryLimit) return true;
    return this.spool.pendingBytes + Math.min(ROOM_BYTES, this.opts.spoolMaxBytes / 4) <= this.opts.spoolMaxBytes;
  }

  /** Events that matter were just spooled, ending at `end`: owed if the topic is away. */
  private markSpooled(owes: readonly (Owes | undefined)[], end: number): void {
    let matters = false;
    for (const o of owes) {
      if (!o) continue;
      matters = true;
      if (!this.unreachable) continue;
      this.owedSessions.set(o.session, end);
      if (o.mutation) this.owedMutations = end;
    }
    if (matters) this.mattersSpooledUntil = end;
  }

  /** After a commit: what is on the topic is owed no more. */
  private settleOwed(): void {
    if (this.spool.pending === 0) {
      this.owedAll = this.owedMutations = this.mattersSpooledUntil = 0;
      this.owedSessions.clear();
      return;
    }
    const at = this.spool.delivered;
    if (this.owedSessions.size > 0) for (const [k, end] of this.owedSessions) if (end <= at) this.owedSessions.delete(k);
  }

  async start(): Promise<void> {
    await this.opts.transport.start?.().catch((err: Error) => {
      this.opts.log?.warn({ code: 'GH_AUDIT_UNREACHABLE', err: err.message }, 'audit topic not reachable at start; events are spooled until it is');
    });
    this.kick();
  }

  /**
   * Queues one event (already chained). Never throws, never waits. `json`: the event as
   * JSON.stringify(event) gives it, when the caller has it (Chain.stampJson).
   */
  append(event: AuditEvent, json?: string, opts?: AppendOptions): void {
    const value = json ?? JSON.stringify(event);
    this.stats.appended++;
    const owes = owesOf(event, opts);
    if (this.spool.pending > 0 || this.degradedSince !== undefined || this.memory.length >= this.memoryLimit) {
      if (!this.spoolAppend([{ key: event.subject, value }])) this.drop(1);
      else this.markSpooled([owes], this.spool.end);
    } else {
      this.memory.push({ key: event.subject, value, at: performance.now(), owes });
      // A lingering batch that is full goes now.
      if (this.lingering && this.memory.length >= Math.min(this.batchSize, this.batchLimit)) this.endLinger();
    }
    this.kick();
  }

  /** Resolves once everything queued so far is on the topic (or after timeoutMs: false). */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    this.flushing++;
    try {
      this.endLinger();
      while (this.backlog > 0 || this.inflight) {
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
      return true;
    } finally {
      this.flushing--;
    }
  }

  async close(timeoutMs = 5_000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    this.endLinger();
    this.wake?.();
    await this.running?.catch(() => undefined);
    // What could not be sent stays on disk for the next start.
    if (this.memory.length > 0 && !this.spoolAppend(this.memory)) this.drop(this.memory.length);
    this.memory = [];
    this.spool.close();
    auditMetrics.unregister(this);
    await this.opts.transport.close?.().catch(() => undefined);
  }

  /** Appends to the spool; false when it is full or the disk refuses (counted as full). */
  private spoolAppend(entries: SpoolEntry[]): boolean {
    try {
      return this.spool.append(entries);
    } catch (err) {
      this.opts.log?.error({ code: 'GH_AUDIT_SPOOL_FULL', err: (err as Error).message }, 'audit spool cannot be written');
      return false;
    }
  }

  private drop(n: number): void {
    this.stats.dropped += n;
    const now = Date.now();
    if (now - this.lastLoud > 10_000) {
      this.lastLoud = now;
      this.opts.log?.error(
        { code: 'GH_AUDIT_SPOOL_FULL', dropped: this.stats.dropped, spoolBytes: this.spool.pendingBytes, maxBytes: this.opts.spoolMaxBytes },
        'AUDIT EVENTS ARE BEING DROPPED: the audit topic is unreachable and the spool is full',
      );
    }
  }

  private kick(): void {
    if (this.wake) {
      const w = this.wake;
      this.wake = undefined;
      w();
    }
    if (!this.running && !this.closed) {
      this.running = this.loop().finally(() => {
        this.running = undefined;
      });
    }
  }

  /** Ends a linger now (the batch is full, or a flush or close wants everything out). */
  private endLinger(): void {
    const l = this.lingering;
    if (!l) return;
    this.lingering = undefined;
    clearTimeout(l.timer);
    l.done();
  }

  /**
   * Waits until the first event in memory has waited lingerMs, the queue holds a full batch, or
   * a flush or close asks; at once when none of that is still ahead.
   */
  private linger(n: number): Promise<void> | undefined {
    const head = this.memory[0]!;
    if (this.lingerMs <= 0 || this.flushing > 0 || this.closed || this.memory.length >= n || head === this.lingeredFor) return undefined;
    const wait = Math.ceil(head.at + this.lingerMs - performance.now());
    if (wait <= 0) return undefined;
    this.lingeredFor = head;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.endLinger(), wait);
      this.lingering = { timer, done: resolve };
    });
  }

  private async loop(): Promise<void> {
    const batchSize = this.batchSize;
    let backoff = this.opts.retryMinMs ?? 200;
    while (!this.closed) {
      if (!this.inflight) {
        const n = Math.min(batchSize, this.batchLimit);
        if (this.memory.length > 0 && this.spool.pending === 0) {
          const waiting = this.linger(n);
          if (waiting) {
            await waiting;
            continue; // the queue may have changed meanwhile (spooled, closed)
          }
        }
        if (this.memory.length > 0) this.inflight = { entries: this.memory.slice(0, n), from: 'memory' };
        else if (this.spool.pending > 0) this.inflight = { entries: this.spool.peek(n), from: 'spool' };
        else return;
        if (this.inflight.entries.length === 0) {
          this.inflight = undefined;
          return;
        }
      }
      const batch = this.inflight;
      try {
        await this.opts.transport.send(batch.entries);
      } catch (err) {
        this.stats.failures++;
        if (tooLarge(err)) {
          // Not a topic that is away: this batch can never go as it is. Smaller batches can; a
          // single event over the topic's limit never can, and is dropped loudly (the chain shows the gap).
          if (batch.entries.length > 1) this.batchLimit = Math.max(1, Math.floor(batch.entries.length / 2));
          else this.dropTooLarge(batch);
          this.inflight = undefined;
          continue;
        }
        if (this.degradedSince === undefined) {
          this.degradedSince = Date.now();
          this.opts.log?.warn({ code: 'GH_AUDIT_UNREACHABLE', err: (err as Error).message, mode: this.opts.mode }, 'audit topic unreachable: events go to the spool');
        }
        if (!this.unreachable) {
          this.unreachable = true;
          // What matters and was spooled while the topic was reachable (the queue was long) waits now too.
          this.owedAll = Math.max(this.owedAll, this.mattersSpooledUntil);
        }
        // The queue moves to disk behind the batch being retried (which is its head); what
        // matters in it is owed.
        if (batch.from === 'memory' && this.spool.pending === 0 && this.spoolAppend(this.memory)) {
          this.markSpooled(this.memory.map((e) => e.owes), this.spool.end);
          this.memory = [];
          batch.from = 'spool';
          this.spool.peek(batch.entries.length);
        }
        if (Date.now() - this.lastBacklogLog >= 10_000) {
          this.lastBacklogLog = Date.now();
          this.opts.log?.warn({ code: 'GH_AUDIT_BACKLOG', backlog: this.backlog, spoolBytes: this.spool.pendingBytes, downMs: Date.now() - this.degradedSince }, 'audit events waiting for the audit topic');
        }
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.retryMaxMs ?? 5_000);
        continue;
      }
      backoff = this.opts.retryMinMs ?? 200;
      this.unreachable = false;
      this.batchLimit = Math.min(batchSize, this.batchLimit * 2);
      if (batch.from === 'memory') this.memory.splice(0, batch.entries.length);
      else {
        this.spool.commit(batch.entries.length);
        this.settleOwed();
      }
      this.inflight = undefined;
      this.stats.delivered += batch.entries.length;
      if (this.degradedSince !== undefined && this.spool.pending === 0) {
        this.opts.log?.info({ code: 'GH_AUDIT_RECOVERED', downMs: Date.now() - this.degradedSince }, 'audit topic reachable again; spool sent');
        this.degradedSince = undefined;
      }
      try {
        this.opts.onDelivered?.(batch.entries);
      } catch (err) {
        this.opts.log?.error({ err }, 'audit onDelivered failed');
      }
    }
  }

  /** Events per batch while batches come back too large (halved each time, doubled back after a success). */
  private batchLimit = Number.MAX_SAFE_INTEGER;

  private dropTooLarge(batch: { entries: SpoolEntry[]; from: 'memory' | 'spool' }): void {
    const e = batch.entries[0]!;
    if (batch.from === 'memory') this.memory.splice(0, 1);
    else {
      this.spool.commit(1);
      this.settleOwed();
    }
    this.stats.dropped++;
    this.opts.log?.error({ code: 'GH_AUDIT_EVENT_TOO_LARGE', bytes: Buffer.byteLength(e.value), key: e.key }, 'audit event larger than the audit topic accepts (max.message.bytes): dropped; the chain shows the gap');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      t.unref();
      // close() wakes the loop early; a new event does not (the backoff stands).
      this.wake = () => {
        if (!this.closed) return;
        clearTimeout(t);
        resolve();
      };
    });
  }
}

/** Whether a send failed because a message or the batch is larger than the topic accepts. */
function tooLarge(err: unknown): boolean {
  for (let e = err as { type?: string; message?: string; originalError?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE') return true;
    if (typeof e.message === 'string' && /larger than the max message size|MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/.test(e.message)) return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

export interface KafkaTransportOptions {
  kafka: Kafka;
  topic: string;
  /** Created if missing (partitions, replication factor; -1 = broker default). */
  create?: { partitions: number; replicationFactor: number; configs?: Record<string, string> };
  log?: Logger;
}

/** The audit topic through kafkajs: idempotent producer, acks=all, one request in flight, explicit partitions. */
export class KafkaTransport implements AuditTransport {
  private producer: Producer | undefined;
  private partitions: number | undefined;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  /** Partitions of keys (session ids) already placed, for the partition count they were placed with. */
  private readonly placed = new Map<string, number>();
  private placedFor = -1;

  constructor(private readonly opts: KafkaTransportOptions) {}

  async start(): Promise<void> {
    await this.ensureProducer();
    await this.ensureTopic();
  }

  private async ensureProducer(): Promise<Producer> {
    if (!this.producer) {
      const p = this.opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await p.connect();
      this.producer = p;
    }
    return this.producer;
  }

  private async ensureTopic(): Promise<number> {
    if (this.partitions !== undefined) return this.partitions;
    const admin: Admin = this.opts.kafka.admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(this.opts.topic) && this.opts.create) {
        const configEntries = Object.entries(this.opts.create.configs ?? {}).map(([name, value]) => ({ name, value }));
        await admin.createTopics({
          topics: [{ topic: this.opts.topic, numPartitions: this.opts.create.partitions, replicationFactor: this.opts.create.replicationFactor, configEntries }],
          waitForLeaders: true,
        });
        this.opts.log?.info({ topic: this.opts.topic, partitions: this.opts.create.partitions }, 'audit topic created');
      }
      const md = await admin.fetchTopicMetadata({ topics: [this.opts.topic] });
      this.partitions = md.topics[0]!.partitions.length;
      return this.partitions;
    } finally {
      await admin.disconnect();
    }
  }

  /** The partition of a key: the Java client's murmur2 partitioning, as kafkajs's default. */
  partitionOf(key: string, partitions: number): number {
    if (partitions !== this.placedFor) {
      this.placed.clear();
      this.placedFor = partitions;
    }
    let p = this.placed.get(key);
    if (p === undefined) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [], isr: [] }));
      p = this.partitioner({ topic: this.opts.topic, partitionMetadata, message: { key, value: null } });
      // Keys are session ids: bounded by dropping the oldest (Map order) past the limit.
      if (this.placed.size >= 10_000) this.placed.delete(this.placed.keys().next().value!);
      this.placed.set(key, p);
    }
    return p;
  }

  async send(entries: readonly SpoolEntry[]): Promise<void> {
    const partitions = this.partitions ?? (await this.ensureTopic());
    const producer = this.producer ?? (await this.ensureProducer());
    const messages = new Array<{ key: string; value: string; partition: number }>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      messages[i] = { key: e.key, value: e.value, partition: this.partitionOf(e.key, partitions) };
    }
    try {
      await producer.send({ topic: this.opts.topic, acks: -1, messages });
    } catch (err) {
      // The idempotent producer's sequence numbers stay as they were for a failed send, so the
      // same batch is retried with the same producer; only a producer the broker no longer
      // knows is replaced.
      const name = (err as { type?: string }).type ?? '';
      if (/PRODUCER_ID|OUT_OF_ORDER_SEQUENCE|PRODUCER_FENCED/.test(name)) {
        this.producer = undefined;
        await producer.disconnect().catch(() => undefined);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }
}
