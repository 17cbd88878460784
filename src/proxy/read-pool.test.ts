import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { adoptPooled, consumeBorrowed, connectPooled, pinnedReadBytes, READ_BUFFER_BYTES, SMALL_READ_BUFFER_BYTES } from './read-pool.js';

let server: Server | undefined;
afterEach(() => server?.close());

/** A server that sends `chunks` (one write each, a little apart) to whoever connects, then ends. */
function serve(chunks: Buffer[]): Promise<number> {
  server = createServer(async (s) => {
    for (const c of chunks) {
      s.write(c);
      await new Promise((r) => setTimeout(r, 20));
    }
    s.end();
  });
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve((server!.address() as AddressInfo).port)));
}

const pattern = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

describe('pooled broker reads', () => {
  it('emits copies as plain data events until a consumer takes over', async () => {
    const sent = [pattern(1000, 1), pattern(2000, 2), pattern(3000, 3)];
    const port = await serve(sent);
    const socket = connectPooled({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    await new Promise((r) => socket.once('end', r));
    // Each read reuses the pooled buffer the last one left, so data kept from earlier events is
    // intact only because the events carried copies.
    expect(got.length).toBeGreaterThanOrEqual(2);
    expect(Buffer.concat(got)).toEqual(Buffer.concat(sent));
    expect(got.every((g) => g.buffer.byteLength < READ_BUFFER_BYTES)).toBe(true);
  });

  it('never reads into a buffer that is still leased, and reuses it once released', async () => {
    const sent = [pattern(4000, 1), pattern(4000, 2), pattern(4000, 3), pattern(4000, 4)];
    const port = await serve(sent);
    const socket = connectPooled({ host: '127.0.0.1', port });
    const seen: Array<{ bytes: Buffer; memory: ArrayBufferLike }> = [];
    let held: { release: () => void; memory: ArrayBufferLike; copy: Buffer; view: Buffer } | undefined;
    expect(
      consumeBorrowed(socket, (view, lease) => {
        seen.push({ bytes: Buffer.from(view), memory: view.buffer });
        // Hold the first read as a pending write would, and check it stays intact.
        if (!held) held = { release: lease.hold(), memory: view.buffer, copy: Buffer.from(view), view };
        else if (seen.length === 3) held.release();
      }),
    ).toBe(true);
    await new Promise((r) => socket.once('end', r));
    expect(Buffer.concat(seen.map((s) => s.bytes))).toEqual(Buffer.concat(sent));
    // While held (reads 2 and 3), no read landed in the first read's memory.
    expect(seen[1]!.memory).not.toBe(held!.memory);
    expect(seen[2]!.memory).not.toBe(held!.memory);
    // The held bytes were never overwritten while the lease was out.
    expect(held!.view.subarray(0, held!.copy.length)).toEqual(held!.copy);
  });

  it('counts the bytes of buffers held past their read as pinned, until the last hold is released', async () => {
    const sent = [pattern(100, 1), pattern(100, 2), pattern(100, 3)];
    const port = await serve(sent);
    const socket = connectPooled({ host: '127.0.0.1', port });
    const base = pinnedReadBytes();
    const releases: Array<() => void> = [];
    const pinnedAfter: number[] = [];
    consumeBorrowed(socket, (_view, lease) => {
      pinnedAfter.push(pinnedReadBytes() - base); // what earlier reads left pinned
      // Two holds on each read (say, a request and a pending write).
      releases.push(lease.hold(), lease.hold());
    });
    await new Promise((r) => socket.once('end', r));
    const reads = pinnedAfter.length; // 3, unless the kernel joined writes
    expect(reads).toBeGreaterThanOrEqual(1);
    // Each read's buffer was counted once it was handled and still held: a small buffer per read.
    expect(pinnedAfter).toEqual(pinnedAfter.map((_, i) => i * SMALL_READ_BUFFER_BYTES));
    expect(pinnedReadBytes() - base).toBe(reads * SMALL_READ_BUFFER_BYTES);
    for (const r of releases.splice(0, 3)) r();
    // The first read fully released, the second (if any) still held once.
    expect(pinnedReadBytes() - base).toBe((reads - 1) * SMALL_READ_BUFFER_BYTES);
    for (const r of releases) r();
    expect(pinnedReadBytes() - base).toBe(0);
  });

  it('reads into small buffers until a read fills one, then into large ones', async () => {
    const port = await serve([Buffer.from('hello'), pattern(2 * 1024 * 1024, 5), Buffer.from('bye')]);
    const socket = connectPooled({ host: '127.0.0.1', port });
    const sizes: Array<{ n: number; capacity: number }> = [];
    const got: Buffer[] = [];
    consumeBorrowed(socket, (view) => {
      sizes.push({ n: view.length, capacity: view.buffer.byteLength });
      got.push(Buffer.from(view));
    });
    await new Promise((r) => socket.once('end', r));
    expect(Buffer.concat(got).length).toBe(5 + 2 * 1024 * 1024 + 3);
    expect(sizes[0]).toEqual({ n: 5, capacity: SMALL_READ_BUFFER_BYTES });
    expect(sizes.some((x) => x.capacity === READ_BUFFER_BYTES && x.n > SMALL_READ_BUFFER_BYTES)).toBe(true);
    // Once the stream is over, back to small buffers.
    expect(sizes.at(-1)!.capacity).toBe(SMALL_READ_BUFFER_BYTES);
  });

  it('is not a pooled socket: consumeBorrowed says so', async () => {
    const { connect } = await import('node:net');
    const port = await serve([Buffer.from('x')]);
    const plain = connect({ host: '127.0.0.1', port });
    expect(consumeBorrowed(plain, () => undefined)).toBe(false);
    plain.destroy();
  });
});

describe('pooled reads for accepted sockets', () => {
  /** A pauseOnConnect server whose connections are adopted; resolves each adopted socket. */
  function adoptingServer(): Promise<{ port: number; next: () => Promise<Socket> }> {
    const waiting: Array<(s: Socket) => void> = [];
    const ready: Socket[] = [];
    server = createServer({ pauseOnConnect: true }, (accepted) => {
      const s = adoptPooled(accepted);
      const w = waiting.shift();
      if (w) w(s);
      else ready.push(s);
    });
    const next = () => new Promise<Socket>((resolve) => (ready.length ? resolve(ready.shift()!) : waiting.push(resolve)));
    return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve({ port: (server!.address() as AddressInfo).port, next })));
  }

  it('reads what the client sends into pooled buffers, and writes back as a plain socket', async () => {
    const { port, next } = await adoptingServer();
    const client = connect({ host: '127.0.0.1', port });
    const adopted = await next();
    const got: Buffer[] = [];
    const memories = new Set<ArrayBufferLike>();
    expect(consumeBorrowed(adopted, (view) => {
      memories.add(view.buffer);
      got.push(Buffer.from(view));
    })).toBe(true);
    expect(adopted.remotePort).toBe(client.localPort);
    const sent = randomBytes(3 * 1024 * 1024);
    const echoed = new Promise<Buffer>((resolve) => client.once('data', resolve));
    adopted.write('ok');
    client.end(sent);
    await new Promise((r) => adopted.once('end', r));
    expect(Buffer.concat(got).equals(sent)).toBe(true);
    expect((await echoed).toString()).toBe('ok');
    // Reads landed in pooled buffers, reused from read to read rather than one per read.
    expect([...memories].every((m) => m.byteLength === READ_BUFFER_BYTES || m.byteLength === SMALL_READ_BUFFER_BYTES)).toBe(true);
    expect(memories.size).toBeLessThan(got.length);
    adopted.destroy();
  });

  it("still counts as the server's connection: close() waits for it", async () => {
    const { port, next } = await adoptingServer();
    const client = connect({ host: '127.0.0.1', port });
    const adopted = await next();
    let closed = false;
    const serverClosed = new Promise<void>((resolve) => server!.close(() => {
      closed = true;
      resolve();
    }));
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(false);
    adopted.destroy();
    client.destroy();
    await serverClosed;
    expect(closed).toBe(true);
    server = undefined;
  });
});
