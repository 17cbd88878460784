import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/e2e.js';
import { canRelay, relay, zeroCopy, type RelayEnd } from './zero-copy.js';

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
