/**
 * A connection's failures are its own: whatever a stage throws or rejects at any point of a
 * connection's work (connect, request, response, response hook, records view, close), and a body
 * a stage sets or answers with that cannot be encoded, ends at most that connection, closed with
 * a logged reason code; never the process (no unhandled rejection), and another connection
 * through the same stages carries on. Against the in-memory fake broker (no JVM).
 */
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../protocol/generated/index.js';
import { defaultFetchPartition, defaultFetchTopic, type FetchRequest } from '../../../protocol/generated/fetch-request.js';
import { defaultFetchableTopicResponse, defaultFetchResponse, defaultPartitionData } from '../../../protocol/generated/fetch-response.js';
import { defaultMetadataResponse } from '../../../protocol/generated/metadata-response.js';
import type { MetadataRequest } from '../../../protocol/generated/metadata-request.js';
import { waitFor } from '../../../test/helpers/e2e.js';
import { proxied, requestFrame, responseFrame, type BrokerRequest, type Proxied } from '../../../test/helpers/fake-broker.js';
import type { InterceptedRequest, InterceptedResponse, Stage } from '../../stage/stage.js';
import type { CloseCode } from '../errors.js';

/** The correlation id that sets a stage off; any other passes untouched. */
const TRIGGER = 666;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const triggered = (x: InterceptedRequest | InterceptedResponse) => ('request' in x ? x.request : x).header.correlationId === TRIGGER;

const metadata = (corr: number) => requestFrame(ApiKey.Metadata, 12, corr, (m: MetadataRequest) => void (m.topics = []));
const fetch = (corr: number) =>
  requestFrame(ApiKey.Fetch, 12, corr, (f: FetchRequest) => {
    Object.assign(f, { maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20 });
    f.topics = [{ ...defaultFetchTopic(), topic: 'events', partitions: [{ ...defaultFetchPartition(), partition: 0, partitionMaxBytes: 1 << 20 }] }];
  });

/** The code the connection closed with, or 'still open' after a while. */
const closedWithin = (p: Proxied) => Promise.race([p.closed, sleep(5_000).then(() => 'still open')]);

/** The fake broker's answers: a real Metadata or Fetch v12 body, so stages can decode them. */
function answer(req: BrokerRequest): Buffer {
  if (req.apiKey === ApiKey.Fetch) {
    const body = defaultFetchResponse();
    body.responses = [{ ...defaultFetchableTopicResponse(), topic: 'events', partitions: [{ ...defaultPartitionData(), partitionIndex: 0, records: Buffer.alloc(0) }] }];
    return responseFrame(ApiKey.Fetch, 12, req.correlationId, body);
  }
  return responseFrame(ApiKey.Metadata, 12, req.correlationId, { ...defaultMetadataResponse(), clusterId: 'fake' });
}

/** A Metadata response body the codec cannot write (its topics must be an array). */
const unencodable = () => ({ ...defaultMetadataResponse(), topics: null });

interface Case {
  what: string;
  stage: Stage;
  /** The request that sets the stage off (correlation id TRIGGER); Metadata unless said. */
  request?: (corr: number) => Buffer;
  code: CloseCode;
  reason: RegExp;
}

const metadataOnly = new Set([ApiKey.Metadata]);
const cases: Case[] = [
  {
    what: 'a stage whose onRequest throws',
    stage: { name: 'throws-on-request', interest: { requests: metadataOnly }, onRequest: (req) => void (triggered(req) && (() => { throw new Error('request bug'); })()) },
    code: 'GH_STAGE_FAILED',
    reason: /throws-on-request.*request bug/,
  },
  {
    what: 'a stage whose onRequest rejects',
    stage: { name: 'rejects-on-request', interest: { requests: metadataOnly }, onRequest: async (req) => { await sleep(1); if (triggered(req)) throw new Error('late request bug'); } },
    code: 'GH_STAGE_FAILED',
    reason: /rejects-on-request.*late request bug/,
  },
  {
    what: 'a stage that answers at once with a body that cannot be encoded',
    stage: { name: 'bad-answer', interest: { requests: metadataOnly }, onRequest: (req) => (triggered(req) ? { respond: unencodable() } : undefined) },
    code: 'GH_STAGE_FAILED',
    reason: /bad-answer.*Metadata response v12.*cannot be encoded/,
  },
  {
    what: 'a stage that answers later with a body that cannot be encoded',
    stage: { name: 'bad-late-answer', interest: { requests: metadataOnly }, onRequest: async (req) => { await sleep(1); return triggered(req) ? { respond: unencodable() } : undefined; } },
    code: 'GH_STAGE_FAILED',
    reason: /bad-late-answer.*Metadata response v12.*cannot be encoded/,
  },
  {
    what: 'a stage whose onResponse rejects',
    stage: { name: 'rejects-on-response', interest: { responses: metadataOnly }, onResponse: async (res) => { await sleep(1); if (triggered(res)) throw new Error('response bug'); } },
    code: 'GH_STAGE_FAILED',
    reason: /rejects-on-response.*response bug/,
  },
  {
    what: 'a stage that sets a response body that cannot be encoded',
    stage: { name: 'bad-body', interest: { responses: metadataOnly }, onResponse: (res) => void (triggered(res) && res.setBody(unencodable())) },
    code: 'GH_STAGE_FAILED',
    reason: /bad-body.*Metadata response v12.*cannot be encoded/,
  },
  {
    // The response is re-encoded after the stage's promise settles.
    what: 'an asynchronous stage that sets a response body that cannot be encoded',
    stage: {
      name: 'bad-body-later',
      interest: { responses: metadataOnly },
      async onResponse(res) {
        await sleep(1);
        if (triggered(res)) res.setBody(unencodable());
      },
    },
    code: 'GH_STAGE_FAILED',
    reason: /bad-body-later.*Metadata response v12.*cannot be encoded/,
  },
  {
    what: 'a response hook that rejects',
    stage: {
      name: 'rejecting-hook',
      interest: { requests: metadataOnly },
      onRequest(req) {
        if (triggered(req)) req.interceptResponse(async () => { await sleep(1); throw new Error('hook bug'); });
      },
    },
    code: 'GH_STAGE_FAILED',
    reason: /rejecting-hook.*hook bug/,
  },
  {
    // onResponseView is typed to return nothing; one that returns a rejected promise anyway.
    what: 'a records view taken by an async function that rejects',
    request: fetch,
    stage: {
      name: 'rejecting-view',
      interest: { responses: new Set([ApiKey.Fetch]), responseViews: new Set([ApiKey.Fetch]) },
      onResponse() {
        throw new Error('a response this stage takes as a view was held whole');
      },
      onResponseView: ((view: { request: InterceptedRequest }) => (triggered(view.request) ? Promise.reject(new Error('view bug')) : undefined)) as Stage['onResponseView'],
    },
    code: 'GH_STAGE_FAILED',
    reason: /rejecting-view.*view bug/,
  },
];

describe('a failure in a connection\'s work ends that connection only', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  beforeAll(() => void process.on('unhandledRejection', onUnhandled));
  afterAll(() => void process.off('unhandledRejection', onUnhandled));
  beforeEach(() => void (unhandled.length = 0));

  let open: Proxied[] = [];
  afterEach(async () => {
    await Promise.all(open.map((p) => p.dispose()));
    open = [];
  });

  /** Log lines of the connections a test opens. */
  function logger() {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    return { log, lines };
  }

  async function connect(id: string, stages: Stage[], log: pino.Logger): Promise<Proxied> {
    const p = await proxied({ transport: 'memory', id, stages, log, broker: { answer } });
    open.push(p);
    return p;
  }

  /** Sends a request and waits for its answer on an open connection. */
  async function roundTrip(p: Proxied, request: Buffer, corr: number): Promise<void> {
    p.client.write(request);
    await waitFor(`answer ${corr}`, () => p.responses().some((r) => r.readInt32BE(4) === corr), { timeoutMs: 5_000, intervalMs: 2 });
  }

  for (const c of cases) {
    it(`${c.what}: its connection closes with ${c.code} and a logged reason; another carries on`, async () => {
      const { log, lines } = logger();
      const request = c.request ?? metadata;
      const a = await connect('a', [c.stage], log);
      const b = await connect('b', [c.stage], log);
      // Both work, through the same stage.
      await roundTrip(a, request(1), 1);
      await roundTrip(b, request(1), 1);

      a.client.write(request(TRIGGER));
      expect(await closedWithin(a)).toBe(c.code);
      const closed = lines.filter((l) => l.msg === 'connection closed');
      expect(closed).toEqual([expect.objectContaining({ conn: 'a', code: c.code, reason: expect.stringMatching(c.reason) })]);

      // The other connection is untouched and still answered.
      await roundTrip(b, request(2), 2);
      await roundTrip(b, metadata(3), 3);
      expect(b.conn.isClosed).toBe(false);
      // A rejection nobody handles is reported on a later turn of the event loop.
      await sleep(20);
      expect(unhandled).toEqual([]);
    });
  }

  it('a fault of the proxy\'s own in a socket event (writing to the client throws): GH_INTERNAL_ERROR, logged with its stack', async () => {
    const { log, lines } = logger();
    const a = await connect('a', [], log);
    const b = await connect('b', [], log);
    await roundTrip(a, metadata(1), 1);
    await roundTrip(b, metadata(1), 1);
    // The proxy's end of a's client connection throws on the next write, as a bug on the write
    // path would: it happens in the broker socket's 'data' event, with nothing of ours above it.
    a.proxyClient.write = () => {
      throw new TypeError('write bug');
    };
    a.client.write(metadata(2));
    expect(await closedWithin(a)).toBe('GH_INTERNAL_ERROR');
    const stackOf = (l: Record<string, unknown>) => String((l.err as { stack?: string } | undefined)?.stack);
    expect(lines.some((l) => l.conn === 'a' && l.code === 'GH_INTERNAL_ERROR' && stackOf(l).includes('write bug'))).toBe(true);
    expect(lines.filter((l) => l.msg === 'connection closed')).toEqual([expect.objectContaining({ conn: 'a', code: 'GH_INTERNAL_ERROR', reason: 'write bug' })]);
    await roundTrip(b, metadata(2), 2);
    await sleep(20);
    expect(unhandled).toEqual([]);
  });

  it('a stage whose onConnect rejects: that connection closes with GH_STAGE_FAILED and a logged reason', async () => {
    const { log, lines } = logger();
    const stage: Stage = {
      name: 'rejects-on-connect',
      interest: {},
      onConnect: async (conn) => {
        if (conn.id === 'a') throw new Error('connect bug');
      },
    };
    const a = await connect('a', [stage], log);
    const b = await connect('b', [stage], log);
    expect(await closedWithin(a)).toBe('GH_STAGE_FAILED');
    expect(lines.filter((l) => l.msg === 'connection closed')).toEqual([expect.objectContaining({ conn: 'a', code: 'GH_STAGE_FAILED', reason: expect.stringMatching(/rejects-on-connect.*connect bug/) })]);
    await roundTrip(b, metadata(1), 1);
    await sleep(20);
    expect(unhandled).toEqual([]);
  });

  it('a stage whose onClose rejects: logged, and nothing else happens', async () => {
    const { log, lines } = logger();
    // onClose is typed to return nothing; one that returns a rejected promise anyway.
    const stage: Stage = { name: 'rejects-on-close', interest: {}, onClose: (() => Promise.reject(new Error('close bug'))) as Stage['onClose'] };
    const a = await connect('a', [stage], log);
    const b = await connect('b', [stage], log);
    a.client.destroy();
    expect(await closedWithin(a)).toBe('GH_CLIENT_CLOSED');
    await waitFor('the logged failure', () => lines.some((l) => l.stage === 'rejects-on-close' && String((l.err as { message?: string })?.message).includes('close bug')), { timeoutMs: 5_000, intervalMs: 2 });
    await roundTrip(b, metadata(1), 1);
    await sleep(20);
    expect(unhandled).toEqual([]);
  });
});
