/**
 * The proxy's own request/response channel over a broker socket: used for its SASL login (before
 * the socket carries client traffic), for cluster discovery and for learning the brokers'
 * ApiVersions answers. One request at a time; the channel can be detached and the socket handed on.
 */
import type { Socket } from 'node:net';
import { readResponseHeader, writeRequestHeader } from '../../protocol/generated/index.js';
import { Reader, Writer } from '../../protocol/runtime/index.js';
import { FrameReader, joinFrame } from './frame-reader.js';

export class ControlChannel {
  private readonly frames = new FrameReader(0x7fffffff, 'broker response');
  private readonly queue: Buffer[] = [];
  private waiter: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private correlationId = 0;
  private readonly onData = (chunk: Buffer): void => {
    try {
      for (const f of this.frames.push(chunk)) this.queue.push(joinFrame(f));
    } catch (err) {
      this.fail(err as Error);
    }
    this.deliver();
  };
  private readonly onError = (err: Error): void => this.fail(new Error(`socket error: ${err.message}`));
  private readonly onClose = (): void => this.fail(new Error('the broker closed the connection'));

  constructor(
    private readonly socket: Socket,
    private readonly clientId: string,
  ) {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  /** Stops listening; the socket goes on to the proxy connection (nothing is buffered: the broker speaks only when asked). */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.deliver();
  }

  /**
   * Sends one request and resolves with a reader at the start of its response body.
   * `responseHeaderVersion` defaults to what `headerVersion` implies; ApiVersions, whose responses
   * always have header v0, says so.
   */
  async request(apiKey: number, version: number, headerVersion: number, writeBody: (w: Writer) => void, responseHeaderVersion = headerVersion === 2 ? 1 : 0): Promise<Reader> {
    const correlationId = ++this.correlationId;
    const w = new Writer(128);
    w.int32(0);
    writeRequestHeader(w, headerVersion, { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: this.clientId });
    writeBody(w);
    const frame = w.finish();
    frame.writeInt32BE(frame.length - 4, 0);
    this.socket.write(frame);
    const wire = await new Promise<Buffer>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.deliver();
    });
    const r = new Reader(wire, 4);
    const header = readResponseHeader(r, responseHeaderVersion);
    if (header.correlationId !== correlationId) throw new Error(`response correlation id ${header.correlationId}, expected ${correlationId}`);
    return r;
  }

  private deliver(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.queue.length) {
      this.waiter = null;
      w.resolve(this.queue.shift()!);
    } else if (this.failure) {
      this.waiter = null;
      w.reject(this.failure);
    }
  }
}
