/**
 * The audit trail from the config's `audit` section: the chain, the sink (kafkajs producer to the
 * audit topic, disk spool), the summariser of unauthenticated sessions, webhooks and alerts, and
 * the two stages (intake first, recorder last).
 */
import { TopicIds } from '../policy/topic-ids.js';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditConfig, GatehouseConfig } from '../config/schema.js';
import type { Component } from '../stage/component.js';
import { AlertEngine } from './alerts.js';
import { CapturePolicy, type AuditMasker } from './capture.js';
import { Chain, defaultInstanceId } from './chain.js';
import type { AuditEvent, AuditKind, UnchainedEvent } from './events.js';
import { kafkaFromConfig } from './kafka-client.js';
import { AuditIntake, AuditRecorder, type Recorder } from './recorder.js';
import { AuditSink, KafkaTransport, type AppendOptions, type AuditTransport } from './sink.js';
import { Summariser } from './summariser.js';
import { webhookFromEnv, Webhooks, type WebhookDestination } from './webhooks.js';

export interface AuditTrailOptions {
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Replaces the Kafka transport (tests). */
  transport?: AuditTransport;
  /** The masking stage's hook for captured records. */
  masker?: AuditMasker;
  /** Topic ids → names, shared with the policy stage. */
  topicIds?: TopicIds;
  /** The sink's linger (SinkOptions.lingerMs; benchmarks, tests). */
  lingerMs?: number;
}

/** Everything the audit section sets up; `recorder.emit` is the one way events are made. */
export class AuditTrail implements Recorder {
  readonly chain: Chain;
  readonly sink: AuditSink;
  readonly webhooks: Webhooks;
  readonly alerts: AlertEngine;
  readonly intake: AuditIntake;
  readonly stage: AuditRecorder;
  readonly summariser: Summariser;
  private readonly listeners = new Set<(e: AuditEvent) => void>();
  private checkpointTimer: NodeJS.Timeout | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;
  private sinceCheckpoint = 0;
  /** A spool folder made up for this process (no config file, no spool.dir): removed at close when empty. */
  private readonly tempSpoolDir: string | undefined;

  constructor(
    readonly config: AuditConfig,
    gatehouse: GatehouseConfig,
    private readonly log: Logger,
    opts: AuditTrailOptions = {},
  ) {
    const env = opts.env ?? process.env;
    this.chain = new Chain(config.instanceId ?? defaultInstanceId());
    const spoolDir = config.spool.dir
      ? resolve(opts.configPath ? dirname(opts.configPath) : process.cwd(), config.spool.dir)
      : opts.configPath
        ? join(dirname(resolve(opts.configPath)), '.gatehouse-audit-spool')
        : join(tmpdir(), `gatehouse-audit-spool-${process.pid}-${randomBytes(3).toString('hex')}`);
    const transport =
      opts.transport ??
      new KafkaTransport({
        kafka: kafkaFromConfig(gatehouse, `gatehouse-audit-${this.chain.instance}`, { retries: 2 }),
        topic: config.topic,
        create: config.createTopic ? { partitions: config.createTopic.partitions, replicationFactor: config.createTopic.replicationFactor, configs: config.createTopic.configs } : undefined,
        log,
      });
    this.tempSpoolDir = config.spool.dir || opts.configPath ? undefined : spoolDir;
    this.sink = new AuditSink({ transport, mode: config.mode, spoolDir, spoolMaxBytes: config.spool.maxBytes, retryMaxMs: config.retryMaxMs, lingerMs: opts.lingerMs, log });
    const destinations: WebhookDestination[] = config.webhooks.map((w) => ({ ...w }));
    const fromEnv = webhookFromEnv(env);
    if (fromEnv) destinations.push(fromEnv);
    this.webhooks = new Webhooks(destinations, { cluster: config.cluster ?? gatehouse.upstream.bootstrap[0]!, log });
    this.alerts = new AlertEngine(
      { authFailures: config.alerts.authFailures, deniedMutations: config.alerts.deniedMutations, criticalTopics: config.alerts.criticalTopics },
      (a) => {
        log.warn({ code: 'GH_AUDIT_ALERT', rule: a.rule, session: a.event.subject, eventId: a.event.id }, a.message);
        this.webhooks.onAlert(a);
      },
    );
    const u = config.unauthenticated;
    this.summariser = new Summariser(
      { inFullPerAddress: u.inFullPerAddress, inFullTotal: u.inFullTotal, windowMs: u.windowMs, addresses: u.addresses, authRequired: gatehouse.identity !== undefined },
      this.chain.instance,
      (kind, subject, data, time, background) => void this.emit(kind, subject, data, time, { background }),
      () => this.sink.pressed,
    );
    const topicIds = opts.topicIds ?? new TopicIds();
    this.intake = new AuditIntake(this, this.chain.instance, topicIds);
    this.stage = new AuditRecorder(this, this.chain.instance, new CapturePolicy(config.capture, opts.masker), topicIds);
  }

  emit(kind: AuditKind, subject: string, data: unknown, time?: number, opts?: AppendOptions): AuditEvent {
    const { event, json } = this.chain.stampJson({ kind, subject, data, time } as UnchainedEvent<unknown>);
    const e = event as AuditEvent;
    this.sink.append(e, json, opts);
    this.sinceCheckpoint++;
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ err }, 'audit listener failed');
      }
    }
    try {
      this.webhooks.onEvent(e);
      this.alerts.onEvent(e);
    } catch (err) {
      this.log.error({ err }, 'audit webhooks/alerts failed');
    }
    return e;
  }

  refusing(sessionId: string): boolean {
    return this.sink.mode === 'fail-closed' && !this.sink.accepts(sessionId);
  }

  /** Every event as it is recorded (tests, tail of the local process). */
  onEvent(l: (e: AuditEvent) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  checkpoint(): AuditEvent {
    const events = this.sinceCheckpoint;
    this.sinceCheckpoint = 0;
    return this.emit('checkpoint', `checkpoint/${this.chain.instance}`, {
      instance: this.chain.instance,
      lastSeq: this.chain.lastSeq,
      lastHash: this.chain.lastHash,
      events,
      dropped: this.sink.stats.dropped,
    });
  }

  async start(): Promise<void> {
    await this.sink.start();
    this.checkpointTimer = setInterval(() => {
      if (this.sinceCheckpoint > 0) this.checkpoint();
    }, this.config.checkpointIntervalMs);
    this.checkpointTimer.unref();
    // Summaries go out when their window ends, also when no session closes then.
    this.summaryTimer = setInterval(() => this.summariser.flush(), Math.min(this.config.unauthenticated.windowMs, 5_000));
    this.summaryTimer.unref();
    this.log.info({ topic: this.config.topic, mode: this.config.mode, instance: this.chain.instance, webhooks: this.webhooks.size }, 'audit trail started');
  }

  async close(): Promise<void> {
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    if (this.summaryTimer) clearInterval(this.summaryTimer);
    this.summariser.flush(true);
    if (this.sinceCheckpoint > 0) this.checkpoint();
    await this.sink.close();
    if (this.tempSpoolDir && this.sink.spooled === 0) rmSync(this.tempSpoolDir, { recursive: true, force: true });
    await this.webhooks.idle(2000);
  }
}

/** The two pipeline components (intake goes first, recorder last), or undefined without an audit section. */
export function auditFromConfig(config: GatehouseConfig, log: Logger, opts: AuditTrailOptions = {}): { trail: AuditTrail; intake: Component; recorder: Component } | undefined {
  if (!config.audit) return undefined;
  const trail = new AuditTrail(config.audit, config, log, opts);
  return {
    trail,
    intake: { stage: trail.intake },
    recorder: { stage: trail.stage, start: () => trail.start(), close: () => trail.close() },
  };
}
