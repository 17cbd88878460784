import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { batches, encodeBatch, encodeRecords } from '../../protocol/runtime/record-batch.js';
import { waitFor } from '../../test/helpers/e2e.js';
import { BATCH_HEADER, canRelay, relay, relayRecords, zeroCopy, type RelayEnd } from './zero-copy.js';

/** A loopback connection: `local` is the accepted end (not reading when `paused`), `peer` the other. */
async function connection(paused: boolean, servers: Server[]): Promise<{ local: Socket; peer: Socket }> {
  const server = createServer({ pauseOnConnect: paused });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const peer = connect(port, '127.0.0.1');
  await once(peer, 'connect');
  const [local] = await accepted;
  // The tests reset connections on purpose; what matters is what the relay reports.
  for (const s of [local, peer]) s.on('error', () => {});
  return { local, peer };
}

function collect(s: Socket): { bytes: () => Buffer } {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return { bytes: () => Buffer.concat(parts) };
}

describe('zero-copy relay', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) s.close();
  });

  // CI builds the addon (.ci/run checks it); the proxy's fallback is tested in stages.test.ts.
  it('is built and loaded on this machine', () => {
    // On failure the reason says what is missing (a C compiler or Node's headers at `npm ci`).
    expect(zeroCopy.reason).toBe('native splice relay');
    expect(zeroCopy.available).toBe(true);
  });

  it('moves exactly the bytes owed, through a receiver that stalls, and leaves what follows to Node', async () => {
    const src = await connection(true, servers);
    const dst = await connection(false, servers);
    sockets.push(src.local, src.peer, dst.local, dst.peer);
    expect(canRelay(src.local, dst.local)).toBe(true);

    const payload = randomBytes(6 * 1024 * 1024);
    src.peer.write(payload);
    src.peer.write('NEXT');
    dst.peer.pause(); // more than the socket buffers hold waits in the pipe and the source
    const got = collect(dst.peer);
    let end: RelayEnd | undefined;
    relay(src.local, dst.local, payload.length, (e) => (end = e));
    await new Promise((r) => setTimeout(r, 300));
    expect(end).toBeUndefined();
    dst.peer.resume();
    await waitFor('the relay to end', () => end !== undefined, { timeoutMs: 10_000, intervalMs: 10 });
    expect(end).toEqual({ errno: 0, written: payload.length, side: 'from' });
    await waitFor('every byte', () => got.bytes().length >= payload.length, { timeoutMs: 10_000, intervalMs: 10 });
    expect(got.bytes().equals(payload)).toBe(true);

    // The bytes after the relayed ones are still in the source socket, for Node to read.
    const rest = collect(src.local);
    src.local.resume();
    await waitFor('the bytes after', () => rest.bytes().length === 4, { timeoutMs: 10_000, intervalMs: 10 });
    expect(rest.bytes().toString()).toBe('NEXT');
  });

  it('reports a source that ends early, and a target that goes away, with whose error it was', async () => {
    const src = await connection(true, servers);
    const dst = await connection(false, servers);
    sockets.push(src.local, src.peer, dst.local, dst.peer);
    src.peer.end(randomBytes(100_000));
    let end: RelayEnd | undefined;
    relay(src.local, dst.local, 200_000, (e) => (end = e));
    await waitFor('the relay to end', () => end !== undefined, { timeoutMs: 10_000, intervalMs: 10 });
    expect(end).toMatchObject({ side: 'from', written: 100_000 });
    expect(end!.errno).not.toBe(0);

    const src2 = await connection(true, servers);
    const dst2 = await connection(false, servers);
    sockets.push(src2.local, src2.peer, dst2.local, dst2.peer);
    dst2.peer.pause();
    src2.peer.write(randomBytes(8 * 1024 * 1024));
    let end2: RelayEnd | undefined;
    relay(src2.local, dst2.local, 8 * 1024 * 1024, (e) => (end2 = e));
    await new Promise((r) => setTimeout(r, 200));
    dst2.peer.resetAndDestroy();
    await waitFor('the relay to end', () => end2 !== undefined, { timeoutMs: 10_000, intervalMs: 10 });
    expect(end2!.side).toBe('to');
    expect(end2!.errno).not.toBe(0);
    expect(end2!.written).toBeLessThan(8 * 1024 * 1024);
  });

  it('stops without a callback when cancelled', async () => {
    const src = await connection(true, servers);
    const dst = await connection(false, servers);
    sockets.push(src.local, src.peer, dst.local, dst.peer);
    let ended = false;
    const r = relay(src.local, dst.local, 1_000_000, () => (ended = true));
    src.peer.write(randomBytes(10_000));
    await new Promise((res) => setTimeout(res, 100));
    r.cancel();
    src.peer.write(randomBytes(2_000_000));
    await new Promise((res) => setTimeout(res, 200));
    expect(ended).toBe(false);
  });
});

/** A small seeded generator, so a failing layout of batches can be reproduced. */
function seeded(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
}

/** A real record batch v2 whose one record holds `valueSize` bytes (no record at all when 0). */
function batch(baseOffset: bigint, valueSize: number): Buffer {
  const count = valueSize === 0 ? 0 : 1;
  const records = count === 0 ? [] : [{ attributes: 0, timestampDelta: 0n, offsetDelta: 0, key: null, value: randomBytes(valueSize), headers: [] }];
  const ts = BigInt(Date.now());
  const header = { baseOffset, partitionLeaderEpoch: 3, magic: 2, crc: 0, attributes: 0, lastOffsetDelta: count - 1, recordCount: count };
  return encodeBatch(
    { ...header, baseTimestamp: ts, maxTimestamp: ts, producerId: -1n, producerEpoch: -1, baseSequence: -1 },
    count === 0 ? Buffer.alloc(0) : encodeRecords(records),
  );
}

/** Batches' value sizes: none (a batch of 61 bytes), small, and over 64 KiB up to `maxLarge`. */
const mixed =
  (maxLarge: number) =>
  (rand: (n: number) => number): number => {
    const kind = rand(3);
    return kind === 0 ? rand(2) * rand(100) : kind === 1 ? 1 + rand(20_000) : 65_537 + rand(maxLarge - 65_537);
  };

/** A records field: `n` batches of random sizes, then the first `tail` bytes of one more, as a Fetch cut short. */
function recordsField(
  rand: (n: number) => number,
  n: number,
  tail: number,
  size = mixed(300_000),
): { field: Buffer; starts: number[] } {
  const parts: Buffer[] = [];
  const starts: number[] = [];
  let at = 0;
  for (let i = 0; i <= n; i++) {
    let b = batch(BigInt(1000 + i * 10), size(rand));
    if (i === n) b = b.subarray(0, Math.min(tail, b.length - 1));
    starts.push(at);
    parts.push(b);
    at += b.length;
  }
  return { field: Buffer.concat(parts), starts };
}

/** The headers a relay of the whole field should capture: the batches', and the cut one's if whole. */
function expectedHeaders(field: Buffer, starts: number[]): Buffer {
  const whole = [...batches(field)].map((b) => b.bytes.subarray(0, BATCH_HEADER));
  const last = starts[starts.length - 1]!;
  if (field.length - last >= BATCH_HEADER) whole.push(field.subarray(last, last + BATCH_HEADER));
  return Buffer.concat(whole);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Writes `data` in pieces with pauses between them, cut inside every header (so a header arrives
 * over more than one read) and at random places besides.
 */
async function trickle(s: Socket, data: Buffer, starts: number[], rand: (n: number) => number): Promise<void> {
  s.setNoDelay(true);
  const cuts = new Set<number>();
  for (const b of starts) {
    cuts.add(b + 1 + rand(BATCH_HEADER - 1));
    if (rand(2)) cuts.add(b + 8 + rand(4)); // inside the length field
    cuts.add(b + rand(200_000));
  }
  const sorted = [...cuts].filter((c) => c > 0 && c < data.length).sort((x, y) => x - y);
  let from = 0;
  for (const c of [...sorted, data.length]) {
    if (c === from) continue;
    s.write(data.subarray(from, c));
    from = c;
    await sleep(1 + rand(3));
  }
}

interface RecordsEnd {
  end: RelayEnd;
  headers: Buffer;
  invalidAt: number | null;
}

/** `relayRecords`, with its end as a promise (`done`) and as it is now (`ended`). */
function relayRecordsNow(
  from: Socket,
  to: Socket,
  length: number,
  firstBoundary: number,
): { ended: () => RecordsEnd | undefined; done: Promise<RecordsEnd> } {
  let result: RecordsEnd | undefined;
  let resolve!: (r: RecordsEnd) => void;
  const done = new Promise<RecordsEnd>((r) => (resolve = r));
  relayRecords(from, to, length, firstBoundary, (end, headers, invalidAt) => {
    result = { end, headers, invalidAt };
    resolve(result);
  });
  return { ended: () => result, done };
}

describe('zero-copy relay of records, capturing the batch headers', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) s.close();
  });

  async function pair(): Promise<{ src: { local: Socket; peer: Socket }; dst: { local: Socket; peer: Socket } }> {
    const src = await connection(true, servers);
    const dst = await connection(false, servers);
    sockets.push(src.local, src.peer, dst.local, dst.peer);
    expect(canRelay(src.local, dst.local)).toBe(true);
    return { src, dst };
  }

  /** What the source still holds after the relays: read by Node. */
  async function rest(src: Socket, n: number): Promise<string> {
    const after = collect(src);
    src.resume();
    await waitFor('the bytes after', () => after.bytes().length >= n, { timeoutMs: 10_000, intervalMs: 10 });
    return after.bytes().toString();
  }

  it('relays whole batches and a cut one from a trickling source to a stalling receiver, with every header', async () => {
    for (const seed of [1, 2, 3]) {
      const rand = seeded(seed);
      const { src, dst } = await pair();
      const { field, starts } = recordsField(rand, 30, 1 + rand(BATCH_HEADER - 1)); // the cut batch is shorter than a header
      dst.peer.pause();
      const got = collect(dst.peer);
      const r = relayRecordsNow(src.local, dst.local, field.length, 0);
      const writing = trickle(src.peer, field, starts, rand).then(() => src.peer.write('NEXT'));
      await sleep(100);
      dst.peer.resume();
      await writing;
      const { end, headers, invalidAt } = await r.done;
      expect(end).toEqual({ errno: 0, written: field.length, side: 'from' });
      expect(invalidAt).toBeNull();
      expect(headers.length).toBe(30 * BATCH_HEADER);
      expect(headers.equals(expectedHeaders(field, starts))).toBe(true);
      await waitFor('every byte', () => got.bytes().length >= field.length, { timeoutMs: 10_000, intervalMs: 10 });
      expect(got.bytes().equals(field)).toBe(true);
      expect(await rest(src.local, 4)).toBe('NEXT');
    }
  });

  it('moves more than the buffers hold through a receiver that stalls, keeping the headers in their places', async () => {
    const rand = seeded(7);
    const { src, dst } = await pair();
    const { field, starts } = recordsField(rand, 60, 5_000, mixed(1_000_000)); // the cut batch's header is whole
    dst.peer.pause();
    const got = collect(dst.peer);
    src.peer.write(field);
    src.peer.write('NEXT');
    const r = relayRecordsNow(src.local, dst.local, field.length, 0);
    await sleep(300);
    expect(r.ended()).toBeUndefined();
    // Resumed and paused again a few times, so the pipe fills with a header waiting to go in.
    for (let i = 0; i < 5 && !r.ended(); i++) {
      dst.peer.resume();
      await sleep(20);
      dst.peer.pause();
      await sleep(50);
    }
    dst.peer.resume();
    const { end, headers, invalidAt } = await r.done;
    expect(end).toEqual({ errno: 0, written: field.length, side: 'from' });
    expect(invalidAt).toBeNull();
    expect(headers.length).toBe(61 * BATCH_HEADER);
    expect(headers.equals(expectedHeaders(field, starts))).toBe(true);
    await waitFor('every byte', () => got.bytes().length >= field.length, { timeoutMs: 10_000, intervalMs: 10 });
    expect(got.bytes().equals(field)).toBe(true);
    expect(await rest(src.local, 4)).toBe('NEXT');
  });

  it('keeps a header waiting while the pipe is full of small batches, until the receiver takes some', async () => {
    // Each header and each small body takes a slot of the pipe: it fills by its slots, not its bytes.
    const rand = seeded(17);
    const { src, dst } = await pair();
    const n = 40_000;
    const { field, starts } = recordsField(rand, n, 20, (r) => r(2) * r(200));
    dst.peer.pause();
    const got = collect(dst.peer);
    src.peer.write(field);
    src.peer.write('NEXT');
    const r = relayRecordsNow(src.local, dst.local, field.length, 0);
    await sleep(300);
    dst.peer.resume();
    const { end, headers, invalidAt } = await r.done;
    expect(end).toEqual({ errno: 0, written: field.length, side: 'from' });
    expect(invalidAt).toBeNull();
    expect(headers.length).toBe(n * BATCH_HEADER);
    expect(headers.equals(expectedHeaders(field, starts))).toBe(true);
    await waitFor('every byte', () => got.bytes().length >= field.length, { timeoutMs: 10_000, intervalMs: 10 });
    expect(got.bytes().equals(field)).toBe(true);
    expect(await rest(src.local, 4)).toBe('NEXT');
  });

  it('relays a field in parts that start inside a batch, from where its next header is', async () => {
    const rand = seeded(11);
    const { src, dst } = await pair();
    const { field, starts } = recordsField(rand, 20, 300);
    // The parts end inside the body of the largest batch: cut1 after its header, cut2 further in.
    const sizes = starts.slice(0, -1).map((s, i) => starts[i + 1]! - s);
    const k = sizes.indexOf(Math.max(...sizes));
    const batchEnd = starts[k + 1]!;
    const cut1 = starts[k]! + BATCH_HEADER + 1000;
    const cut2 = cut1 + 30_000;
    expect(cut2).toBeLessThan(batchEnd);
    const got = collect(dst.peer);
    const writing = trickle(src.peer, field, starts, rand).then(() => src.peer.write('NEXT'));
    const parts: [number, number, number][] = [
      [0, cut1, 0],
      [cut1, cut2, batchEnd - cut1], // no header starts within this part
      [cut2, field.length, batchEnd - cut2],
    ];
    const captured: Buffer[] = [];
    for (const [from, to, firstBoundary] of parts) {
      const { end, headers, invalidAt } = await relayRecordsNow(src.local, dst.local, to - from, firstBoundary).done;
      expect(end).toEqual({ errno: 0, written: to - from, side: 'from' });
      expect(invalidAt).toBeNull();
      captured.push(headers);
    }
    await writing;
    expect(captured.map((h) => h.length / BATCH_HEADER)).toEqual([k + 1, 0, 20 - k]);
    expect(Buffer.concat(captured).equals(expectedHeaders(field, starts))).toBe(true);
    await waitFor('every byte', () => got.bytes().length >= field.length, { timeoutMs: 10_000, intervalMs: 10 });
    expect(got.bytes().equals(field)).toBe(true);
    expect(await rest(src.local, 4)).toBe('NEXT');
  });

  it('stops capturing at a length below a batch\'s minimum, says where, and still moves every byte', async () => {
    const rand = seeded(5);
    const { src, dst } = await pair();
    const good = recordsField(rand, 3, 0);
    const bad = randomBytes(BATCH_HEADER + 500);
    bad.writeInt32BE(48, 8); // a batch of 60 bytes cannot be
    const after = batch(99n, 70_000); // a real batch after it is not captured either
    const field = Buffer.concat([good.field, bad, after]);
    const got = collect(dst.peer);
    const r = relayRecordsNow(src.local, dst.local, field.length, 0);
    const starts = [...good.starts, good.field.length, good.field.length + bad.length];
    await trickle(src.peer, Buffer.concat([field, Buffer.from('NEXT')]), starts, rand);
    const { end, headers, invalidAt } = await r.done;
    expect(end).toEqual({ errno: 0, written: field.length, side: 'from' });
    expect(invalidAt).toBe(good.field.length);
    expect(headers.equals(expectedHeaders(good.field, good.starts))).toBe(true);
    await waitFor('every byte', () => got.bytes().length >= field.length, { timeoutMs: 10_000, intervalMs: 10 });
    expect(got.bytes().equals(field)).toBe(true);
    expect(await rest(src.local, 4)).toBe('NEXT');
  });

  it('reports a source that ends inside a header, with the headers read before', async () => {
    const rand = seeded(9);
    const { src, dst } = await pair();
    const { field, starts } = recordsField(rand, 4, 0);
    const last = starts[3]!;
    src.peer.end(field.subarray(0, last + 30));
    const { end, headers, invalidAt } = await relayRecordsNow(src.local, dst.local, field.length, 0).done;
    expect(end).toMatchObject({ side: 'from', written: last });
    expect(end.errno).not.toBe(0);
    expect(invalidAt).toBeNull();
    const before = starts.slice(0, 3).map((s) => field.subarray(s, s + BATCH_HEADER));
    expect(headers.equals(Buffer.concat(before))).toBe(true);
  });

  it('stops without a callback when cancelled, also with a header half read', async () => {
    const rand = seeded(13);
    const { src, dst } = await pair();
    const { field } = recordsField(rand, 5, 0);
    let ended = false;
    const r = relayRecords(src.local, dst.local, field.length, 0, () => (ended = true));
    src.peer.write(field.subarray(0, 30));
    await sleep(100);
    r.cancel();
    src.peer.write(field.subarray(30));
    await sleep(200);
    r.cancel(); // a second cancel is harmless
    expect(ended).toBe(false);
  });
});
