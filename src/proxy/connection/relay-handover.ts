/**
 * Handing a response cut through over to the zero-copy relay (zero-copy.ts) and back. The rest
 * of the response being cut through goes from the broker's socket to the client's in the kernel,
 * when it is large enough and both are plain TCP sockets. The broker socket is not read
 * meanwhile; the bytes after the response stay in it for Node. Once the relay ends, the response
 * order (response-order.ts) is told what went past and the broker socket is read again.
 */
import type { Socket } from 'node:net';
import { canRelay, relay, relayRecords, type Relay, type RelayEnd } from '../zero-copy.js';
import type { ConnectionCore } from './core.js';
import type { ResponseOrder } from './response-order.js';

/** Below this many bytes still to come, a cut-through response is not worth a relay's setup. */
const RELAY_MIN_BYTES = 128 * 1024;

export interface RelayOptions {
  /** Relay cut-through responses in the kernel where possible. */
  enabled: boolean;
  /** Bytes the relay moved (counted in the proxy's stats). */
  onRelayed?: (bytes: number) => void;
}

export class RelayHandover {
  /** 'waiting': the broker socket is paused until the client's socket has taken what was written. */
  private state: 'waiting' | Relay | null = null;
  /** The relay failed to start once on this connection; it is not tried again. */
  private refused = false;

  constructor(
    private readonly core: ConnectionCore,
    private readonly order: ResponseOrder,
    private readonly opts: RelayOptions,
  ) {}

  /** A relay is waiting to start or running: the broker socket stays paused until it ends. */
  get active(): boolean {
    return this.state !== null;
  }

  /** Starts a relay if the response being cut through has enough left (after each broker read). */
  maybeStart(): void {
    const { client, upstream: up } = this.core;
    if (this.core.closed || this.state || !up) return;
    const span = this.order.relaySpan();
    if (!span || span.length < RELAY_MIN_BYTES) return;
    if (!this.opts.enabled || this.refused || !canRelay(up, client)) return;
    this.state = 'waiting';
    up.pause();
    // The relay writes behind Node's back, so what Node holds for the client goes first.
    this.order.uncorkNow();
    if (client.writableLength === 0) this.start(up, span.length, span.firstBoundary);
    else client.once('drain', this.core.guarded(() => this.start(up, span.length, span.firstBoundary)));
  }

  /** Stops a running relay without its callback (the connection is closing). */
  cancel(): void {
    if (this.state && this.state !== 'waiting') this.state.cancel();
    this.state = null;
  }

  /** `firstBoundary` -1: a plain relay; else where the first batch header starts in a records field's rest. */
  private start(up: Socket, length: number, firstBoundary: number): void {
    const { client } = this.core;
    if (this.core.closed || this.state !== 'waiting') return;
    try {
      if (firstBoundary < 0) {
        this.state = relay(up, client, length, (end) => this.ended(up, length, end));
      } else {
        this.state = relayRecords(up, client, length, firstBoundary, (end, headers, invalidAt) => {
          // The view learns what went past before the frame reader does (it may end the response).
          if (end.errno === 0) {
            try {
              this.order.viewRelayed(length, firstBoundary, headers, invalidAt !== null);
            } catch (err) {
              this.state = null;
              return this.core.fail(err);
            }
          }
          this.ended(up, length, end);
        });
      }
    } catch (err) {
      // No relay this time (e.g. out of file descriptors for its pipe): the bytes come through
      // the process instead, as without the addon.
      this.core.log.warn({ err: (err as Error).message }, 'zero-copy relay could not start; copying on this connection');
      this.state = null;
      this.refused = true;
      up.resume();
    }
  }

  /** Called from native code: nothing above it would catch what it throws, so it catches all. */
  private ended(up: Socket, length: number, end: RelayEnd): void {
    this.state = null;
    if (this.core.closed) return;
    try {
      if (end.errno !== 0) {
        const what = `${end.side === 'from' ? 'broker' : 'client'} socket error ${end.errno} relaying a response (${end.written} of ${length} bytes)`;
        return this.core.close(end.side === 'from' ? 'GH_UPSTREAM_CLOSED' : 'GH_CLIENT_CLOSED', what);
      }
      this.opts.onRelayed?.(length);
      this.order.relayed(length);
      if (!this.core.closed) up.resume();
    } catch (err) {
      this.core.fail(err);
    }
  }
}
