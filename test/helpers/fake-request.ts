/**
 * Stand-ins for a stage's unit tests: a connection and a request as the proxy would hand them
 * over, with the body given and what the stage does to it (setBody, interceptResponse) kept.
 */
import { apiCodec } from '../../protocol/generated/index.js';
import type { ConnectionInfo } from '../../src/stage/connection-info.js';
import type { InterceptedRequest, Located, ResponseHook } from '../../src/stage/stage.js';
import { batchHeaders, recordsBytes, type RecordsField } from '../../protocol/runtime/records-view.js';

export function fakeConnection(extra: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return { id: 'c1', remoteAddress: '127.0.0.1', remotePort: 1, listener: 'bootstrap', nodeId: -1, openedAt: 0, attributes: new Map(), ...extra };
}

export interface FakeRequest extends InterceptedRequest {
  /** Hooks the stage set with interceptResponse(). */
  readonly hooks: ResponseHook[];
  /** The body as the stage left it. */
  current(): unknown;
}

/**
 * What locate() gives for a decoded `body`: its records buffers laid end to end as the "frame",
 * each non-null `records` field located in body order (the order the proxy reads them in), so
 * header-level views see the real batches.
 */
export function locatedFrom(body: unknown): Located<never> {
  const segments: Buffer[] = [];
  const fields: RecordsField[] = [];
  let at = 0;
  const walk = (x: unknown): void => {
    if (x === null || typeof x !== 'object' || Buffer.isBuffer(x)) return;
    if (Array.isArray(x)) return x.forEach(walk);
    for (const [k, v] of Object.entries(x)) {
      if (k === 'records' && Buffer.isBuffer(v)) {
        segments.push(v);
        fields.push({ offset: at, length: v.length });
        at += v.length;
      } else walk(v);
    }
  };
  walk(body);
  return { body: body as never, fields, headers: (f) => batchHeaders(segments, f), bytes: (f) => recordsBytes(segments, f) };
}

export function fakeRequest(conn: ConnectionInfo, apiKey: number, body: unknown = {}, apiVersion = 1, expectsResponse = true): FakeRequest {
  const hooks: ResponseHook[] = [];
  let current = body;
  return {
    header: { apiKey, apiVersion, correlationId: 1, clientId: 't', apiName: apiCodec(apiKey)?.name ?? `api${apiKey}` },
    connection: conn,
    frame: Buffer.alloc(0),
    size: 0,
    body: <T>() => current as T,
    skim: <T>() => current as T,
    setBody: (b: unknown) => void (current = b),
    locate: () => locatedFrom(current),
    get modified() {
      return current !== body;
    },
    expectsResponse,
    interceptResponse: (h: ResponseHook) => void hooks.push(h),
    hooks,
    current: () => current,
  };
}
