/**
 * What the parts of one connection share (connection.ts makes it): the client socket, the broker
 * socket once connected, the stages, the log, whether the connection is closed or draining, and
 * how it ends. Plus the two helpers both stage runners use.
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

  /** Closes for an error: a ProxyError with its code, anything else as a stage failure (logged). */
  fail(err: unknown): void {
    if (err instanceof ProxyError) return this.close(err.code, err.message);
    this.log.error({ err }, 'unexpected error');
    this.close('GH_STAGE_FAILED', (err as Error)?.message ?? String(err));
  }
}

export function isPromise<T>(x: unknown): x is Promise<T> {
  return typeof x === 'object' && x !== null && typeof (x as Promise<T>).then === 'function';
}

/** What a stage threw, as the error that closes the connection. */
export function stageError(stage: Stage, err: unknown): unknown {
  if (err instanceof ProxyError) return err;
  return new ProxyError('GH_STAGE_FAILED', `stage ${stage.name} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
