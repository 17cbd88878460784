/**
 * The brokers' ApiVersions answers, remembered proxy-wide for connections whose broker connection
 * waits (a stage holds it back until the client has logged in, Stage.holdUpstream). Such a
 * connection's ApiVersions request is answered from here with what the broker answered to the
 * same request version, and that answer then runs through the response stages as the broker's own
 * would: ApiVersionsStage caps it to what the proxy speaks, the identity stage makes sure the SASL
 * APIs are in it. A client thus sees the same answer as on a connection that forwarded it.
 *
 * One set of answers per upstream target (the bootstrap list, or one broker by node id): learned
 * by the start-up discovery, else asked for on a connection of the proxy's own when first needed,
 * one ask at a time per target; a failed ask is remembered for `retryAfterMs`, so that a flood of
 * connections cannot turn into a flood of broker connections. Answers older than `maxAgeMs` are
 * still used while fresh ones are asked for in the background (brokers change them only when
 * upgraded or when cluster features change).
 *
 * A request of v3 or later whose client software name or version the broker would refuse is
 * answered as the broker answers it, INVALID_REQUEST with no APIs (Kafka's ApiVersionsRequest.isValid).
 */
import type { Logger } from 'pino';
import { apiCodec, ApiKey } from '../../../protocol/generated/index.js';
import type { ApiVersionsRequest } from '../../../protocol/generated/api-versions-request.js';
import { writeApiVersionsRequest } from '../../../protocol/generated/api-versions-request.js';
import { defaultApiVersionsResponse, readApiVersionsResponse, type ApiVersionsResponse } from '../../../protocol/generated/api-versions-response.js';
import type { ControlChannel } from '../control-channel.js';
import { ProxyError } from '../errors.js';

/** An answer to ApiVersions and the version its body is encoded in (v0 for UNSUPPORTED_VERSION, as brokers do). */
export interface ApiVersionsAnswer {
  readonly body: ApiVersionsResponse;
  readonly version: number;
}

/** A broker's answers, by request version. */
export type ApiVersionsAnswers = ReadonlyMap<number, ApiVersionsAnswer>;

/** How a connection gets the answer to its ApiVersions request while its broker connection waits. */
export type ApiVersionsSource = (request: ApiVersionsRequest, version: number) => Promise<ApiVersionsAnswer>;

const UNSUPPORTED_VERSION = 35;
const INVALID_REQUEST = 42;
/** Kafka's ApiVersionsRequest.SOFTWARE_NAME_VERSION_PATTERN, matched whole. */
const SOFTWARE_NAME_VERSION = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;
const SOFTWARE = { clientSoftwareName: 'gatehouse', clientSoftwareVersion: '1' };

/** Asks the broker ApiVersions at every version the proxy speaks, one after the other on `channel`. */
export async function askApiVersions(channel: ControlChannel): Promise<ApiVersionsAnswers> {
  const codec = apiCodec(ApiKey.ApiVersions)!;
  const out = new Map<number, ApiVersionsAnswer>();
  for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
    // ApiVersions responses have header v0 whatever the request's header version.
    const r = await channel.request(ApiKey.ApiVersions, v, v >= 3 ? 2 : 1, (w) => writeApiVersionsRequest(w, v, SOFTWARE), 0);
    const version = r.remaining >= 2 && r.buf.readInt16BE(r.pos) === UNSUPPORTED_VERSION ? 0 : v;
    out.set(v, { body: readApiVersionsResponse(r, version), version });
  }
  return out;
}

/** The broker's answer to a v3+ request with a client software name or version it does not accept; undefined for a valid request. */
export function invalidRequestAnswer(request: ApiVersionsRequest, version: number): ApiVersionsAnswer | undefined {
  if (version < 3) return undefined;
  if (SOFTWARE_NAME_VERSION.test(request.clientSoftwareName) && SOFTWARE_NAME_VERSION.test(request.clientSoftwareVersion)) return undefined;
  return { body: { ...defaultApiVersionsResponse(), errorCode: INVALID_REQUEST }, version };
}

export interface RememberedApiVersionsOptions {
  /** Asks the broker(s) of a target (node id, -1 for the bootstrap list) on a connection of the proxy's own. */
  ask: (target: number) => Promise<ApiVersionsAnswers>;
  /** Answers older than this are refreshed in the background (default 5 minutes). */
  maxAgeMs?: number;
  /** After a failed ask, connections needing that target's answers fail at once for this long (default 1 s). */
  retryAfterMs?: number;
  log?: Logger;
  /** For tests. */
  now?: () => number;
}

interface Entry {
  answers?: ApiVersionsAnswers;
  learnedAt: number;
  asking?: Promise<ApiVersionsAnswers>;
  failure?: { err: unknown; at: number };
}

export class RememberedApiVersions {
  private readonly entries = new Map<number, Entry>();
  private readonly maxAgeMs: number;
  private readonly retryAfterMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: RememberedApiVersionsOptions) {
    this.maxAgeMs = opts.maxAgeMs ?? 5 * 60_000;
    this.retryAfterMs = opts.retryAfterMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** Answers a target's broker gave (the start-up discovery's). */
  learn(target: number, answers: ApiVersionsAnswers): void {
    const e = this.entry(target);
    e.answers = answers;
    e.learnedAt = this.now();
    e.failure = undefined;
  }

  /** The broker's answer to this request, for a connection to `target`; rejects when it cannot be had. */
  async answer(target: number, request: ApiVersionsRequest, version: number): Promise<ApiVersionsAnswer> {
    const invalid = invalidRequestAnswer(request, version);
    if (invalid) return invalid;
    const answers = await this.answers(target);
    const a = answers.get(version);
    if (!a) throw new ProxyError('GH_UPSTREAM_PROTOCOL', `no remembered ApiVersions answer for v${version}`);
    return a;
  }

  private entry(target: number): Entry {
    let e = this.entries.get(target);
    if (!e) this.entries.set(target, (e = { learnedAt: 0 }));
    return e;
  }

  private answers(target: number): Promise<ApiVersionsAnswers> | ApiVersionsAnswers {
    const e = this.entry(target);
    const now = this.now();
    if (e.answers) {
      if (now - e.learnedAt >= this.maxAgeMs && !e.asking) {
        this.ask(target, e).catch((err: unknown) => this.opts.log?.warn({ target, err: (err as Error).message }, 'refreshing the brokers\' ApiVersions answers failed; the old ones stay in use'));
      }
      return e.answers;
    }
    if (e.asking) return e.asking;
    if (e.failure && now - e.failure.at < this.retryAfterMs) return Promise.reject(e.failure.err);
    return this.ask(target, e);
  }

  private ask(target: number, e: Entry): Promise<ApiVersionsAnswers> {
    const asking = this.opts.ask(target).then(
      (answers) => {
        e.asking = undefined;
        e.answers = answers;
        e.learnedAt = this.now();
        e.failure = undefined;
        return answers;
      },
      (err: unknown) => {
        e.asking = undefined;
        e.failure = { err, at: this.now() };
        throw err;
      },
    );
    e.asking = asking;
    return asking;
  }
}
