/**
 * What the parts of one connection share (connection.ts makes it): the client socket, the broker
 * socket once connected, the stages, the log, whether the connection is closed or draining, and
 * how it ends. Plus the helpers the parts use so that whatever goes wrong in a connection's work
 * (a throw in an event handler, a rejected promise, a throw after one settled) ends at most that
 * connection, with a logged reason code, and never the process.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ConnectionInfo } from '../../stage/connection-info.js';
import type { Stage } from '../../stage/stage.js';
import { ProxyError, type CloseCode } from '../errors.js';

export class ConnectionCore {
  /** The broker connection; null until connected. Set by connection.ts only. */
  upstream: Socket | null = null;
  /** Set by connection.ts only (close()). */
  closed = false;
  /** No more requests are taken; the connection closes once every accepted one is answered. */
  draining = false;

  constructor(
    readonly info: ConnectionInfo,
    readonly client: Socket,
    readonly stages: readonly Stage[],
    readonly log: Logger,
    /** Ends the connection (ProxyConnection.close). */
    readonly close: (code: CloseCode, message: string) => void,
  ) {}

  /**
   * Closes for an error: a ProxyError with its code; anything else is a fault of the proxy's own,
   * logged with its stack and closed as GH_INTERNAL_ERROR. Never throws: it is what every
   * handler and promise continuation of the connection ends in.
   */
  fail(err: unknown): void {
    try {
      if (err instanceof ProxyError) return this.close(err.code, err.message);
      this.log.error({ err, code: 'GH_INTERNAL_ERROR' }, 'unexpected error in a connection');
      this.close('GH_INTERNAL_ERROR', messageOf(err));
    } catch (again) {
      // Closing failed too: whatever is left of the connection goes, the process stays.
      try {
        this.log.error({ err: again, code: 'GH_INTERNAL_ERROR' }, 'closing a failed connection failed');
      } catch {
        // nowhere left to say it
      }
      this.client.destroy();
      this.upstream?.destroy();
    }
  }

  /**
   * Continues the connection's work once `p` settles. A rejection, or anything `then` throws,
   * ends this connection (fail); the promise this makes never rejects, so nothing is left as an
   * unhandled rejection.
   */
  after<T>(p: Promise<T>, then: (value: T) => void): void {
    p.then(
      (value) => {
        try {
          then(value);
        } catch (err) {
          this.fail(err);
        }
      },
      (err: unknown) => this.fail(err),
    );
  }

  /** `handler` for an event of a socket or timer: whatever it throws ends this connection, not the process. */
  guarded<A extends unknown[]>(handler: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      try {
        handler(...args);
      } catch (err) {
        this.fail(err);
      }
    };
  }
}

export function isPromise<T>(x: unknown): x is Promise<T> {
  return typeof x === 'object' && x !== null && typeof (x as Promise<T>).then === 'function';
}

export function messageOf(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}

/** What a stage threw, as the error that closes the connection. */
export function stageError(stage: Stage, err: unknown): unknown {
  if (err instanceof ProxyError) return err;
  return new ProxyError('GH_STAGE_FAILED', `stage ${stage.name} failed: ${messageOf(err)}`, { cause: err });
}
