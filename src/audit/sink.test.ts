import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Chain } from './chain.js';
import type { AuditEvent } from './events.js';
import { auditMetrics } from './metrics.js';
import { AuditSink, type AuditTransport } from './sink.js';
import { Spool, type SpoolEntry } from './spool.js';

/** A transport that can be switched off; records what it accepted, in order. */
class FakeTopic implements AuditTransport {
  up = true;
  readonly received: SpoolEntry[] = [];
  attempts = 0;
  async send(entries: readonly SpoolEntry[]): Promise<void> {
    this.attempts++;
    await new Promise((r) => setTimeout(r, 1));
    if (!this.up) throw new Error('broker down');
    this.received.push(...entries);
  }
}

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'gh-spool-test-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const chain = new Chain('sink-test');
const event = (n: number): AuditEvent => chain.stamp({ kind: 'request', subject: `s/${n % 3}`, data: { n } }) as unknown as AuditEvent;
const seqs = (t: FakeTopic) => t.received.map((e) => (JSON.parse(e.value) as AuditEvent).seq);

describe('spool', () => {
  it('keeps entries in order across reopen and removes its files when drained', () => {
    const dir = tempDir();
    const s = new Spool(dir, 1 << 20);
    expect(s.append([{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { key: 'c', value: '3' }])).toBe(true);
    expect(s.peek(2)).toEqual([{ key: 'a', value: '1' }, { key: 'b', value: '2' }]);
    s.commit(1);
    s.close();
    const again = new Spool(dir, 1 << 20);
    expect(again.pending).toBe(2);
    expect(again.peek(5).map((e) => e.value)).toEqual(['2', '3']);
    again.commit(2);
    expect(again.pending).toBe(0);
    expect(again.pendingBytes).toBe(0);
  });

  it('is bounded', () => {
    const s = new Spool(tempDir(), 100);
    expect(s.append([{ key: 'k', value: 'x'.repeat(50) }])).toBe(true);
    expect(s.append([{ key: 'k', value: 'x'.repeat(50) }])).toBe(false);
    expect(s.pending).toBe(1);
  });
});

describe('audit sink', () => {
  it('sends in order; while the topic is away events go to the spool, then follow in order, none lost or twice', async () => {
    const topic = new FakeTopic();
    const sink = new AuditSink({ transport: topic, mode: 'fail-open', spoolDir: tempDir(), spoolMaxBytes: 1 << 20, retryMinMs: 5, retryMaxMs: 20, batchSize: 7 });
    await sink.start();
    for (let i = 0; i < 20; i++) sink.append(event(i));
    expect(await sink.flush()).toBe(true);
    topic.up = false;
    for (let i = 20; i < 60; i++) sink.append(event(i));
    await new Promise((r) => setTimeout(r, 50));
    expect(sink.degraded).toBe(true);
    expect(sink.spooled).toBeGreaterThan(0);
    expect(sink.accepting).toBe(false);
    const metrics = await auditMetrics.registry.metrics();
    expect(Number(/^gatehouse_audit_spool_events (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^gatehouse_audit_topic_unreachable 1/m);
    topic.up = true;
    expect(await sink.flush()).toBe(true);
    expect(sink.degraded).toBe(false);
    const got = seqs(topic);
    expect(got).toEqual([...got].sort((a, b) => a - b));
    expect(new Set(got).size).toBe(60);
    expect(got.length).toBe(60);
    await sink.close();
  });

  it('fail-open with a full spool drops events, counts them and says so', async () => {
    const topic = new FakeTopic();
    topic.up = false;
    const errors: string[] = [];
    const log = { warn: () => undefined, info: () => undefined, error: (o: { code: string }) => errors.push(o.code) } as never;
    const sink = new AuditSink({ transport: topic, mode: 'fail-open', spoolDir: tempDir(), spoolMaxBytes: 2048, retryMinMs: 5, retryMaxMs: 10, log });
    await sink.start();
    sink.append(event(0));
    // Its first delivery attempt fails (the topic is down): the sink says it is degraded.
    await vi.waitFor(() => expect(sink.degraded).toBe(true), { timeout: 10_000, interval: 5 });
    for (let i = 1; i < 50; i++) sink.append(event(i));
    expect(sink.stats.dropped).toBeGreaterThan(0);
    expect(errors).toContain('GH_AUDIT_SPOOL_FULL');
    topic.up = true;
    await sink.close();
  });

  it('a batch over the topic\'s size limit goes in smaller batches; a single event over it is dropped loudly, the rest goes on', async () => {
    /** A topic that takes at most 3 messages a request and no message over 2,000 bytes, as a broker answers MESSAGE_TOO_LARGE. */
    class SmallTopic extends FakeTopic {
      override async send(entries: readonly SpoolEntry[]): Promise<void> {
        this.attempts++;
        if (entries.length > 3 || entries.some((e) => e.value.length > 2000)) throw Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { type: 'MESSAGE_TOO_LARGE' });
        this.received.push(...entries);
      }
    }
    const topic = new SmallTopic();
    const errors: Array<{ code: string; bytes?: number }> = [];
    const log = { warn: () => undefined, info: () => undefined, error: (o: { code: string; bytes?: number }) => errors.push(o) } as never;
    const sink = new AuditSink({ transport: topic, mode: 'fail-closed', spoolDir: tempDir(), spoolMaxBytes: 1 << 20, retryMinMs: 5, retryMaxMs: 10, batchSize: 50, log });
    await sink.start();
    const huge = chain.stamp({ kind: 'request', subject: 's/x', data: { n: 'x'.repeat(5000) } }) as unknown as AuditEvent;
    for (let i = 0; i < 10; i++) sink.append(event(i));
    sink.append(huge);
    for (let i = 10; i < 20; i++) sink.append(event(i));
    expect(await sink.flush()).toBe(true);
    expect(topic.received).toHaveLength(20);
    expect(seqs(topic)).toEqual([...seqs(topic)].sort((a, b) => a - b));
    expect(sink.stats.dropped).toBe(1);
    expect(errors).toEqual([expect.objectContaining({ code: 'GH_AUDIT_EVENT_TOO_LARGE' })]);
    expect(sink.degraded).toBe(false);
    await sink.close();
  });

  it('what is still spooled at close is sent by the next sink on the same spool', async () => {
    const dir = tempDir();
    const down = new FakeTopic();
    down.up = false;
    const first = new AuditSink({ transport: down, mode: 'fail-closed', spoolDir: dir, spoolMaxBytes: 1 << 20, retryMinMs: 5, retryMaxMs: 10 });
    await first.start();
    for (let i = 0; i < 10; i++) first.append(event(100 + i));
    await first.close(50);
    const topic = new FakeTopic();
    const second = new AuditSink({ transport: topic, mode: 'fail-closed', spoolDir: dir, spoolMaxBytes: 1 << 20, retryMinMs: 5 });
    expect(second.accepting).toBe(false);
    await second.start();
    expect(await second.flush()).toBe(true);
    expect(second.accepting).toBe(true);
    expect(topic.received.length).toBe(10);
    await second.close();
  });
});

describe('audit sink fail-closed gate: only the events that matter for a request', () => {
  /** A topic that, while `stepping`, takes one send per allow(). */
  class StepTopic extends FakeTopic {
    stepping = false;
    private permits = 0;
    private waiting: Array<() => void> = [];
    allow(n = 1): void {
      this.permits += n;
      for (const w of this.waiting.splice(0)) w();
    }
    /** Takes every send again. */
    go(): void {
      this.stepping = false;
      this.allow(0);
    }
    override async send(entries: readonly SpoolEntry[]): Promise<void> {
      if (!this.up) return super.send(entries);
      while (this.stepping && this.permits === 0) await new Promise<void>((r) => this.waiting.push(r));
      if (this.stepping) this.permits--;
      return super.send(entries);
    }
  }
  const ev = (subject: string, category: 'query' | 'mutation' = 'query') => chain.stamp({ kind: 'request', subject, data: { category } }) as unknown as AuditEvent;
  const until = async (what: string, cond: () => boolean) => {
    for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    if (!cond()) throw new Error(`timed out waiting for ${what}`);
  };
  const subjects = (t: FakeTopic) => t.received.map((e) => e.key);

  it('a backlog of background events (unauthenticated sessions, summaries) in the spool refuses nobody while the topic takes events', async () => {
    const topic = new StepTopic();
    topic.stepping = true;
    const sink = new AuditSink({ transport: topic, mode: 'fail-closed', spoolDir: tempDir(), spoolMaxBytes: 1 << 20, memoryEvents: 2, batchSize: 1, lingerMs: 0, retryMinMs: 5 });
    await sink.start();
    for (let i = 0; i < 20; i++) sink.append(ev(`u/${i}`), undefined, { background: true });
    expect(sink.spooled).toBeGreaterThan(10); // past the memory queue: on disk
    expect(sink.pressed).toBe(true);
    expect(sink.accepts('s/alice')).toBe(true);
    // Her own events queue behind the backlog, and she is not held back by them either.
    sink.append(ev('s/alice', 'mutation'));
    expect(sink.accepts('s/alice')).toBe(true);
    expect(sink.accepting).toBe(true);
    topic.go();
    expect(await sink.flush()).toBe(true);
    expect(subjects(topic).at(-1)).toBe('s/alice');
    expect(topic.received).toHaveLength(21);
    await sink.close();
  });

  it('after the topic was away: a session waits for its own spooled events, everyone for spooled mutations, nobody for background ones', async () => {
    const topic = new StepTopic();
    topic.up = false;
    const sink = new AuditSink({ transport: topic, mode: 'fail-closed', spoolDir: tempDir(), spoolMaxBytes: 1 << 20, batchSize: 1, lingerMs: 0, retryMinMs: 5, retryMaxMs: 10 });
    await sink.start();
    sink.append(ev('u/1'), undefined, { background: true });
    await until('the topic to be found away', () => sink.degraded);
    expect(sink.accepts('s/carol')).toBe(false); // nothing can be made durable now
    sink.append(ev('s/alice'));
    sink.append(ev('u/2'), undefined, { background: true });
    sink.append(ev('u/3'), undefined, { background: true });
    topic.stepping = true;
    topic.up = true;
    topic.allow(1); // u/1 reaches the topic: reachable again
    await until('a first delivery', () => topic.received.length === 1);
    await until('the sink to notice', () => sink.accepts('s/carol'));
    expect(sink.accepts('s/alice')).toBe(false); // her event from the outage still waits
    topic.allow(1);
    await until('alice\'s event on the topic', () => subjects(topic).includes('s/alice'));
    await until('the sink to notice', () => sink.accepts('s/alice'));
    expect(sink.spooled).toBeGreaterThan(0); // background left: it holds nobody back
    expect(sink.degraded).toBe(true);

    // A mutation spooled while the topic is away holds everyone back until it is on the topic.
    topic.go();
    expect(await sink.flush()).toBe(true);
    topic.up = false;
    sink.append(ev('u/4'), undefined, { background: true });
    await until('the topic to be found away', () => sink.degraded);
    sink.append(ev('s/bob', 'mutation'));
    sink.append(ev('u/5'), undefined, { background: true });
    topic.stepping = true;
    topic.up = true;
    topic.allow(1);
    await until('a first delivery', () => subjects(topic).includes('u/4'));
    await new Promise((r) => setTimeout(r, 20));
    expect(sink.accepts('s/carol')).toBe(false);
    topic.allow(1);
    await until('bob\'s mutation on the topic', () => subjects(topic).includes('s/bob'));
    await until('the sink to notice', () => sink.accepts('s/carol'));
    expect(sink.spooled).toBe(1); // u/5
    topic.go();
    expect(await sink.flush()).toBe(true);
    expect(seqs(topic)).toEqual([...seqs(topic)].sort((a, b) => a - b));
    await sink.close();
  });

  it('refuses when an event could not be kept: the spool is nearly full', async () => {
    const topic = new StepTopic();
    topic.stepping = true;
    const sink = new AuditSink({ transport: topic, mode: 'fail-closed', spoolDir: tempDir(), spoolMaxBytes: 4096, memoryEvents: 1, batchSize: 1, lingerMs: 0 });
    await sink.start();
    for (let i = 0; i < 60; i++) sink.append(ev(`u/${i}`), undefined, { background: true });
    expect(sink.accepts('s/alice')).toBe(false);
    topic.go();
    await sink.close();
  });
});

describe('audit sink lingering', () => {
  /** A FakeTopic that notes when each batch came and how large it was. */
  class TimedTopic extends FakeTopic {
    readonly batches: Array<{ at: number; size: number }> = [];
    override async send(entries: readonly SpoolEntry[]): Promise<void> {
      this.batches.push({ at: performance.now(), size: entries.length });
      await super.send(entries);
    }
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('events of a sequential client go together after the linger, in order, and flush waits for them', async () => {
    const topic = new TimedTopic();
    const sink = new AuditSink({ transport: topic, mode: 'fail-closed', spoolDir: tempDir(), spoolMaxBytes: 1 << 20, lingerMs: 300 });
    await sink.start();
    const first = performance.now();
    for (let i = 0; i < 5; i++) {
      sink.append(event(i));
      await sleep(1);
    }
    if (performance.now() - first < 250) {
      expect(topic.batches).toEqual([]); // still lingering: nobody waited for it
      expect(sink.backlog).toBe(5);
    }
    expect(sink.accepting).toBe(true);
    for (let i = 0; i < 300 && topic.received.length < 5; i++) await sleep(10);
    expect(topic.batches.map((b) => b.size)).toEqual([5]);
    expect(topic.batches[0]!.at - first).toBeGreaterThanOrEqual(295);
    for (let i = 5; i < 8; i++) sink.append(event(i));
    expect(await sink.flush()).toBe(true); // flush does not linger
    expect(topic.batches.map((b) => b.size)).toEqual([5, 3]);
    const got = seqs(topic);
    expect(got).toEqual([...got].sort((a, b) => a - b));
    expect(got).toHaveLength(8);
    await sink.close();
  });

  it('a full batch goes at once; close sends what lingers', async () => {
    const topic = new TimedTopic();
    const sink = new AuditSink({ transport: topic, mode: 'fail-open', spoolDir: tempDir(), spoolMaxBytes: 1 << 20, lingerMs: 60_000, batchSize: 4 });
    await sink.start();
    for (let i = 0; i < 6; i++) sink.append(event(i));
    await sleep(100);
    expect(topic.batches.map((b) => b.size)).toEqual([4]); // the other 2 wait for company
    const started = Date.now();
    await sink.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(topic.batches.map((b) => b.size)).toEqual([4, 2]);
    expect(sink.backlog).toBe(0);
  });

  it('fail-closed: a lingering batch that cannot reach the topic is spooled and the sink refuses, then delivers in order', async () => {
    const topic = new TimedTopic();
    topic.up = false;
    const sink = new AuditSink({ transport: topic, mode: 'fail-closed', spoolDir: tempDir(), spoolMaxBytes: 1 << 20, lingerMs: 20, retryMinMs: 5, retryMaxMs: 20 });
    await sink.start();
    expect(sink.accepting).toBe(true);
    for (let i = 0; i < 3; i++) sink.append(event(i));
    await sleep(150);
    expect(sink.degraded).toBe(true);
    expect(sink.accepting).toBe(false);
    expect(sink.spooled).toBe(3);
    for (let i = 3; i < 6; i++) sink.append(event(i)); // behind the spool, in order
    expect(sink.spooled).toBe(6);
    topic.up = true;
    expect(await sink.flush()).toBe(true);
    expect(sink.accepting).toBe(true);
    const got = seqs(topic);
    expect(got).toHaveLength(6);
    expect(got).toEqual([...got].sort((a, b) => a - b));
    await sink.close();
  });

  it('sends the serialized event it is given', async () => {
    const topic = new FakeTopic();
    const sink = new AuditSink({ transport: topic, mode: 'fail-open', spoolDir: tempDir(), spoolMaxBytes: 1 << 20, lingerMs: 0 });
    await sink.start();
    const { event: e, json } = chain.stampJson({ kind: 'request', subject: 's/j', data: { n: 1 } });
    sink.append(e as unknown as AuditEvent, json);
    sink.append(event(2));
    expect(await sink.flush()).toBe(true);
    expect(topic.received.map((r) => [r.key, r.value])).toEqual([
      ['s/j', json],
      ['s/2', expect.stringContaining('"n":2')],
    ]);
    await sink.close();
  });
});

describe('KafkaTransport.partitionOf', () => {
  it('places keys as kafkajs\'s default partitioner does, remembering them per partition count', async () => {
    const { KafkaTransport } = await import('./sink.js');
    const kafkajs = (await import('kafkajs')).default;
    const reference = kafkajs.Partitioners.DefaultPartitioner();
    const expected = (key: string, partitions: number) =>
      reference({ topic: 't', partitionMetadata: Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [], isr: [] })), message: { key, value: null } });
    const t = new KafkaTransport({ kafka: {} as never, topic: 't' });
    const keys = Array.from({ length: 200 }, (_, i) => `host-${i % 7}-abcd/${i}`);
    for (const partitions of [3, 3, 5, 1, 3]) {
      for (const k of keys) expect(t.partitionOf(k, partitions)).toBe(expected(k, partitions));
    }
  });
});
