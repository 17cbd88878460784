/**
 * Reads the audit topic back with the proxy's own connection settings (kafkajs): from a point in
 * time (ListOffsets by timestamp, so a read never scans from the start unless asked to), up to
 * the end offsets taken when the read began, or on and on (`follow`). Progress goes to a
 * callback (the CLI prints it to stderr on long reads).
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { StoredMessage } from './chain.js';

export interface ReadOptions {
  topic: string;
  /** Start at the first event at or after this time (ms since epoch), or at the start; undefined: the start, or the end with `follow`. */
  since?: number | 'start' | undefined;
  /** Keep reading new events until the signal aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Called at most every `progressEveryMs` with messages read and the total to read (not for follow). */
  onProgress?: (read: number, total: number) => void;
  progressEveryMs?: number;
}

class AsyncQueue<T> {
  private items: T[] = [];
  private waiting: ((v: IteratorResult<T>) => void) | undefined;
  private ended = false;
  private error: unknown;
  push(v: T): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: v, done: false });
    } else this.items.push(v);
  }
  end(err?: unknown): void {
    this.ended = true;
    this.error = err;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: undefined as T, done: true });
    }
  }
  async next(): Promise<IteratorResult<T>> {
    if (this.items.length) return { value: this.items.shift()!, done: false };
    if (this.ended) {
      if (this.error) throw this.error;
      return { value: undefined as T, done: true };
    }
    return new Promise((r) => (this.waiting = r));
  }
  get size(): number {
    return this.items.length;
  }
}

/** Messages of the audit topic, in offset order within each partition. */
export async function* readAuditTopic(kafka: Kafka, opts: ReadOptions): AsyncGenerator<StoredMessage> {
  const admin = kafka.admin();
  await admin.connect();
  let start = new Map<number, bigint>();
  const end = new Map<number, bigint>();
  try {
    const offsets = await admin.fetchTopicOffsets(opts.topic);
    for (const o of offsets) {
      end.set(o.partition, BigInt(o.high));
      start.set(o.partition, BigInt(o.low));
    }
    if (typeof opts.since === 'number') {
      const byTime = await admin.fetchTopicOffsetsByTimestamp(opts.topic, opts.since);
      for (const o of byTime) {
        const at = BigInt(o.offset);
        // -1: no event at or after that time: start at the end.
        start.set(o.partition, at < 0n ? end.get(o.partition)! : at);
      }
    }
    if (opts.follow && opts.since === undefined) start = new Map(end);
  } catch (err) {
    await admin.disconnect();
    throw err;
  }

  const total = [...end.entries()].reduce((n, [p, e]) => n + Number(e - (start.get(p) ?? 0n)), 0);
  const pendingPartitions = new Set([...end.keys()].filter((p) => (start.get(p) ?? 0n) < end.get(p)!));
  if (!opts.follow && pendingPartitions.size === 0) {
    await admin.disconnect();
    opts.onProgress?.(0, 0);
    return;
  }

  const groupId = `gatehouse-audit-reader-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500, allowAutoTopicCreation: false, retry: { retries: 5 } });
  const queue = new AsyncQueue<StoredMessage>();
  let read = 0;
  let lastProgress = 0;
  const every = opts.progressEveryMs ?? 1000;
  const done = () => queue.end();
  opts.signal?.addEventListener('abort', done, { once: true });
  try {
    // Seek at every group join: a consumer that crashed and restarted (say, while the group
    // coordinator was still loading) starts over from the committed position otherwise.
    const seekAll = () => {
      try {
        for (const [partition, offset] of start) consumer.seek({ topic: opts.topic, partition, offset: offset.toString() });
      } catch {
        // not running yet: the next GROUP_JOIN seeks
      }
    };
    consumer.on(consumer.events.GROUP_JOIN, seekAll);
    await consumer.connect();
    await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const from = start.get(batch.partition) ?? 0n;
        const last = end.get(batch.partition) ?? 0n;
        for (const m of batch.messages) {
          const off = BigInt(m.offset);
          if (off < from) continue; // before the seek took effect
          if (!opts.follow && off >= last) continue;
          queue.push({ partition: batch.partition, offset: m.offset, key: m.key?.toString('utf8') ?? null, value: m.value?.toString('utf8') ?? null });
          read++;
          if (!opts.follow && off === last - 1n) pendingPartitions.delete(batch.partition);
        }
        if (!opts.follow) {
          if (opts.onProgress && Date.now() - lastProgress >= every) {
            lastProgress = Date.now();
            opts.onProgress(read, total);
          }
          if (pendingPartitions.size === 0) done();
        }
      },
    });
    seekAll();
    for (;;) {
      const r = await queue.next();
      if (r.done) break;
      yield r.value;
    }
    if (!opts.follow) opts.onProgress?.(read, total);
  } finally {
    opts.signal?.removeEventListener('abort', done);
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}
