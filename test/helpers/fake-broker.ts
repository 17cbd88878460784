/**
 * A ProxyConnection between a test's client and a fake broker, no JVM: for the connection's unit
 * tests (ordering, chunking, backpressure, relay hand-over).
 *
 * Two transports. 'memory': both connections are in-memory socket pairs (MemorySocket) that keep
 * every write as one read at the other end, delivered on a later turn of the event loop, and
 * push back as a socket does (a bounded amount in flight, then the writer waits); exact
 * chunking, exact bounds. 'tcp': loopback sockets set up as the server does (client sockets
 * adopted onto pooled reads, the broker reached with the real PlainConnector), so pooled reads
 * and the zero-copy relay, which needs file descriptors, are the real ones.
 *
 * The fake broker answers each request frame in order, with what the test's `answer` makes of it,
 * writing its output in pieces of the sizes the test picks (pieces span answers) and waiting for
 * 'drain' when its socket says so. The broker connection is counted (`upstreamConnects`); with
 * `waitForBroker: false` (a stage holds it back) the test may find it never opens.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import pino, { type Logger } from 'pino';
import { apiCodec, writeRequestHeader, writeResponseHeader } from '../../protocol/generated/index.js';
import { Writer } from '../../protocol/runtime/index.js';
import { ProxyConnection } from '../../src/proxy/connection.js';
import type { CloseCode } from '../../src/proxy/errors.js';
import { requestHeaderVersion, responseHeaderVersion } from '../../src/proxy/exchange.js';
import { FrameReader, joinFrame } from '../../src/proxy/frame-reader.js';
import { adoptPooled } from '../../src/proxy/read-pool.js';
import { PlainConnector } from '../../src/proxy/upstream.js';
import type { ApiVersionsSource } from '../../src/proxy/routing/remembered-api-versions.js';
import type { Stage } from '../../src/stage/stage.js';
import { fakeConnection } from './fake-request.js';

// ---- in-memory sockets ----

const EOF = Symbol('eof');

/**
 * One end of an in-memory connection. A write is kept as one chunk and handed to the other end
 * on a later turn of the event loop, as the kernel would; up to `capacity` bytes may be in flight
 * (written, not yet taken by the other end's readable side), after which the writer waits, as on
 * a full socket buffer. The other end's readable side takes chunks until it is over its high
 * water mark (it is not being read).
 */
export class MemorySocket extends Duplex {
  peer!: MemorySocket;
  private inFlight: Array<Buffer | typeof EOF> = [];
  private inFlightBytes = 0;
  private scheduled = false;
  private blocked: ((err?: Error | null) => void) | null = null;
  /** The readable side refused the last chunk; more is handed over when it asks (_read). */
  private full = false;
  /** Bytes this end's readable side has been handed. */
  bytesIn = 0;

  constructor(private readonly capacity: number) {
    super({ allowHalfOpen: false, readableHighWaterMark: capacity, writableHighWaterMark: capacity });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.inFlight.push(Buffer.from(chunk)); // the kernel copies
    this.inFlightBytes += chunk.length;
    this.schedule();
    if (this.inFlightBytes < this.capacity) cb();
    else this.blocked = cb;
  }

  override _read(): void {
    this.full = false;
    this.peer.schedule();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inFlight.push(EOF);
    this.schedule();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inFlight = [EOF]; // what was not delivered is lost, as on a reset
    this.inFlightBytes = 0;
    this.schedule();
    const blocked = this.blocked;
    this.blocked = null;
    blocked?.(err ?? new Error('socket destroyed'));
    cb(err);
  }

  setNoDelay(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.deliver());
  }

  /** Hands what is in flight to the other end's readable side, as far as it takes it. */
  private deliver(): void {
    this.scheduled = false;
    const to = this.peer;
    while (this.inFlight.length > 0 && !to.full) {
      const c = this.inFlight.shift()!;
      if (c === EOF) {
        if (!to.destroyed) to.push(null);
        this.inFlight.length = 0;
        break;
      }
      this.inFlightBytes -= c.length;
      if (to.destroyed) continue;
      to.bytesIn += c.length;
      if (!to.push(c)) to.full = true;
    }
    if (this.blocked && this.inFlightBytes < this.capacity) {
      const cb = this.blocked;
      this.blocked = null;
      cb();
    }
  }
}

/** Two connected in-memory sockets. */
export function memoryPair(capacity = 64 * 1024): [MemorySocket, MemorySocket] {
  const a = new MemorySocket(capacity);
  const b = new MemorySocket(capacity);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

// ---- frames ----

/** A request frame (size prefix included) of an API at a version, its body from `fill`. */
export function requestFrame(apiKey: number, version: number, correlationId: number, fill: (body: never) => void = () => {}): Buffer {
  const codec = apiCodec(apiKey)!;
  const body = codec.defaultRequest();
  fill(body as never);
  const w = new Writer(256);
  w.int32(0);
  writeRequestHeader(w, requestHeaderVersion(codec, version), { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: 'fake' });
  codec.writeRequest(w, version, body);
  const out = Buffer.from(w.finish());
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** A response frame (size prefix included): its header for the API and version, then `body` encoded, or raw bytes. */
export function responseFrame(apiKey: number, version: number, correlationId: number, body: unknown): Buffer {
  const codec = apiCodec(apiKey)!;
  const w = new Writer(256);
  w.int32(0);
  writeResponseHeader(w, responseHeaderVersion(codec, version), { correlationId });
  if (Buffer.isBuffer(body)) w.raw(body);
  else codec.writeResponse(w, version, body);
  const out = Buffer.from(w.finish());
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

// ---- the fake broker ----

export interface BrokerRequest {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** As received, size prefix included. */
  frame: Buffer;
}

export interface FakeBrokerOptions {
  /** The answer to a request (a frame, size prefix included), or null for none (Produce acks=0). */
  answer: (req: BrokerRequest) => Buffer | null;
  /** Bytes of output to write next, as one write (default: all there is). */
  piece?: () => number;
  /** Awaited after each piece (default: nothing). */
  pause?: () => Promise<void> | void;
}

export class FakeBroker {
  readonly requests: BrokerRequest[] = [];
  /** Every answer, in order. */
  readonly answers: Buffer[] = [];
  /** Bytes handed to the socket so far. */
  sent = 0;
  private readonly frames = new FrameReader(1 << 30, 'fake broker');
  private output: Buffer[] = [];
  private writing = false;

  constructor(
    readonly socket: Duplex,
    private readonly opts: FakeBrokerOptions,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.frames.push(chunk)) this.onRequest(joinFrame(f));
    });
    socket.on('error', () => {});
  }

  private onRequest(frame: Buffer): void {
    const req = { apiKey: frame.readInt16BE(4), apiVersion: frame.readInt16BE(6), correlationId: frame.readInt32BE(8), frame: Buffer.from(frame) };
    this.requests.push(req);
    const answer = this.opts.answer(req);
    if (!answer) return;
    this.answers.push(answer);
    this.output.push(answer);
    void this.write();
  }

  /** The next `n` bytes of output (at least one; all there is when fewer). */
  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let got = 0;
    const want = Math.max(1, n);
    while (got < want && this.output.length > 0) {
      const head = this.output[0]!;
      const use = Math.min(head.length, want - got);
      parts.push(head.subarray(0, use));
      if (use === head.length) this.output.shift();
      else this.output[0] = head.subarray(use);
      got += use;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private async write(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      // Answers to the requests of one read leave together, as one stream of pieces.
      await new Promise((r) => setImmediate(r));
      while (this.output.length > 0 && !this.socket.destroyed) {
        const piece = this.take(this.opts.piece?.() ?? Infinity);
        this.sent += piece.length;
        if (!this.socket.write(piece)) await once(this.socket, 'drain');
        await this.opts.pause?.();
      }
    } catch {
      // the connection went away
    } finally {
      this.writing = false;
    }
  }
}

// ---- a connection through the proxy ----

export interface ProxiedOptions {
  transport: 'memory' | 'tcp';
  broker: FakeBrokerOptions;
  stages?: Stage[];
  zeroCopy?: boolean;
  /** In-memory sockets: bytes in flight and buffered per direction (default 64 KiB). */
  capacity?: number;
  /** Where the connection logs (default: nowhere). */
  log?: Logger;
  /** The connection's id (default c1), as in its log lines. */
  id?: string;
  /** The connection's ApiVersions answers while a stage holds the broker connection back. */
  apiVersions?: ApiVersionsSource;
  /** Resolve once the connection started, without waiting for the broker connection (default: wait). */
  waitForBroker?: boolean;
}

export interface Proxied {
  /** The test's end of the client connection. */
  client: Duplex;
  /** The proxy's end of the client connection. */
  proxyClient: Duplex;
  /** The fake broker (throws while the broker connection is not open). */
  readonly broker: FakeBroker;
  /** Settles with the fake broker once the proxy connected to it. */
  brokerConnected: Promise<FakeBroker>;
  conn: ProxyConnection;
  /** upstreamConnects: broker connections the proxy asked its connector for. */
  stats: { cutThrough: number; relayed: number; upstreamConnects: number };
  /** Settles with the code the connection closed with. */
  closed: Promise<CloseCode>;
  /** Everything the client has read so far, its length, and as response frames. */
  received(): Buffer;
  receivedBytes(): number;
  responses(): Buffer[];
  dispose(): Promise<void>;
}

const silent = pino({ level: 'silent' });

/** A client connection through a ProxyConnection to a fake broker, started and connected. */
export async function proxied(opts: ProxiedOptions): Promise<Proxied> {
  const stats = { cutThrough: 0, relayed: 0, upstreamConnects: 0 };
  let onClosed!: (code: CloseCode) => void;
  const closed = new Promise<CloseCode>((r) => (onClosed = r));
  const servers: Server[] = [];
  const sockets: Duplex[] = [];
  const make = (client: Socket, connect: () => Promise<Socket>): ProxyConnection =>
    new ProxyConnection({
      info: fakeConnection(opts.id ? { id: opts.id } : {}),
      client,
      resolveTargets: async () => [{ host: '127.0.0.1', port: 0 }],
      connector: {
        connect: () => {
          stats.upstreamConnects++;
          return connect();
        },
      },
      ...(opts.apiVersions ? { apiVersions: opts.apiVersions } : {}),
      stages: opts.stages ?? [],
      maxFrameBytes: 100 * 1024 * 1024,
      idleTimeoutMs: 600_000,
      log: opts.log ?? silent,
      onClosed: (_c, code) => onClosed(code),
      onCutThrough: () => stats.cutThrough++,
      zeroCopy: opts.zeroCopy ?? false,
      onRelayed: (n) => (stats.relayed += n),
    });

  let client: Duplex;
  let proxyClient: Duplex;
  let broker: FakeBroker | undefined;
  let brokerConnected: Promise<FakeBroker>;
  let conn: ProxyConnection;
  if (opts.transport === 'memory') {
    const [testEnd, proxyEnd] = memoryPair(opts.capacity);
    const [upProxy, upBroker] = memoryPair(opts.capacity);
    let connected!: (b: FakeBroker) => void;
    brokerConnected = new Promise((r) => (connected = r));
    client = testEnd;
    proxyClient = proxyEnd;
    conn = make(proxyEnd as unknown as Socket, async () => {
      broker = new FakeBroker(upBroker, opts.broker);
      connected(broker);
      return upProxy as unknown as Socket;
    });
    await conn.start();
  } else {
    const listen = async (server: Server): Promise<number> => {
      servers.push(server);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return (server.address() as { port: number }).port;
    };
    const brokerServer = createServer({ noDelay: true });
    const brokerPort = await listen(brokerServer);
    brokerConnected = (once(brokerServer, 'connection') as Promise<[Socket]>).then(([brokerSocket]) => {
      brokerSocket.setNoDelay(true);
      broker = new FakeBroker(brokerSocket, opts.broker);
      sockets.push(brokerSocket);
      return broker;
    });
    brokerConnected.catch(() => undefined);
    // As the server accepts clients: paused, then moved onto pooled reads.
    const proxyServer = createServer({ noDelay: true, pauseOnConnect: true });
    const proxyPort = await listen(proxyServer);
    const accepted = once(proxyServer, 'connection') as Promise<[Socket]>;
    client = connect(proxyPort, '127.0.0.1');
    client.on('error', () => {});
    const [socket] = await accepted;
    const adopted = adoptPooled(socket);
    proxyClient = adopted;
    const connector = new PlainConnector(5_000);
    conn = make(adopted, () => connector.connect({ host: '127.0.0.1', port: brokerPort }));
    await conn.start();
  }
  // (A connection closed before it reached the broker, e.g. refused by a stage, has none to wait for.)
  if (opts.waitForBroker !== false) await Promise.race([brokerConnected, closed]);
  sockets.push(client);

  const parts: Buffer[] = [];
  let receivedBytes = 0;
  client.on('data', (c: Buffer) => {
    parts.push(c);
    receivedBytes += c.length;
  });
  return {
    client,
    proxyClient,
    get broker(): FakeBroker {
      if (!broker) throw new Error('the proxy has not connected to the fake broker');
      return broker;
    },
    brokerConnected,
    conn,
    stats,
    closed,
    received: () => Buffer.concat(parts),
    receivedBytes: () => receivedBytes,
    responses: () => {
      const r = new FrameReader(1 << 30, 'test client');
      return r.push(Buffer.concat(parts)).map((f) => Buffer.from(joinFrame(f)));
    },
    dispose: async () => {
      conn.close('GH_SHUTDOWN', 'test over');
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}

/** Writes `bytes` in the given pieces, awaiting `pause` after each (and 'drain' when asked to). */
export async function writeInPieces(socket: Duplex, pieces: Buffer[], pause?: () => Promise<void> | void): Promise<void> {
  for (const p of pieces) {
    if (!socket.write(p)) await once(socket, 'drain');
    await pause?.();
  }
}
