/**
 * Bad input on a raw socket: each kind of broken client costs exactly its own connection, with a
 * stable close code in the stats and a warn log line giving the reason, while a kafkajs admin
 * that was already connected through the same proxy, and a fresh kcat, go on working.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { adminListTopics, connIdOf, kafkaClient, kcat, kcatBrokers, requestFrame, sendRaw, sizePrefixed, warnLines } from '../helpers/e2e.js';
import { startProxy, type ProxyOverrides, type TestProxy } from '../helpers/proxy.js';

const kafkaBootstrap = inject('kafkaBootstrap');

/** A flexible (v2) request header followed by `body`, for Metadata v12. */
const metadataV12 = (body: number[]): Buffer => requestFrame(ApiKey.Metadata, 12, Buffer.from(body), { flexible: true });

interface Case {
  name: string;
  overrides?: ProxyOverrides;
  /** What the client sends; undefined: nothing at all. */
  bytes: Buffer | undefined;
  code: string;
  reason: RegExp;
}

const MAX_FRAME = 64 * 1024;

const cases: Case[] = [
  {
    name: 'a frame over limits.maxFrameBytes',
    overrides: { limits: { maxFrameBytes: MAX_FRAME } },
    // only the size prefix and a few bytes: the proxy must judge by the prefix, not wait for 64 KiB
    bytes: Buffer.concat([Buffer.from([0, 1, 0, 1]), Buffer.alloc(16)]),
    code: 'GH_FRAME_TOO_LARGE',
    reason: new RegExp(`frame of ${MAX_FRAME + 1} bytes exceeds the limit of ${MAX_FRAME}`),
  },
  {
    name: 'a negative frame size',
    bytes: Buffer.from([0xff, 0xff, 0xff, 0xf0, 0, 0]),
    code: 'GH_FRAME_INVALID',
    reason: /negative frame size/,
  },
  {
    name: 'a frame shorter than any request header',
    bytes: sizePrefixed(Buffer.from([0, 3, 0])),
    code: 'GH_FRAME_INVALID',
    reason: /shorter than a request header/,
  },
  {
    name: 'a request header whose client id runs past the end of the frame',
    // Metadata v12, correlation id 1, client id length 0x7fff but only two bytes follow
    bytes: sizePrefixed(Buffer.from([0, 3, 0, 12, 0, 0, 0, 1, 0x7f, 0xff, 0x41, 0x42])),
    code: 'GH_FRAME_INVALID',
    reason: /request header/,
  },
  {
    name: 'a Metadata v12 request whose body cannot be decoded (absurd topic count)',
    // topics: compact array of length 0x7ffffffe (varint), then two stray bytes
    bytes: metadataV12([0xff, 0xff, 0xff, 0xff, 0x07, 1, 2]),
    code: 'GH_FRAME_INVALID',
    reason: /Metadata request v12/,
  },
  {
    name: 'a Metadata v9 request whose body is truncated (5 topics promised, none sent)',
    bytes: requestFrame(ApiKey.Metadata, 9, Buffer.from([0, 0, 0, 5])),
    code: 'GH_FRAME_INVALID',
    reason: /Metadata request v9/,
  },
  {
    name: 'an unknown API key (9999)',
    bytes: requestFrame(9999, 0, Buffer.alloc(0)),
    code: 'GH_UNKNOWN_API',
    reason: /unknown API key 9999/,
  },
  {
    name: 'an unsupported version (Metadata v99)',
    bytes: requestFrame(ApiKey.Metadata, 99, Buffer.from([1, 1, 0]), { flexible: true }),
    code: 'GH_UNSUPPORTED_VERSION',
    reason: /Metadata v99 is outside the supported/,
  },
  {
    name: 'a client that connects and sends nothing',
    overrides: { limits: { idleTimeoutMs: 500 } },
    bytes: undefined,
    code: 'GH_IDLE_TIMEOUT',
    reason: /no traffic for 500 ms/,
  },
];

describe('bad input closes only the connection that sent it', () => {
  let gh: TestProxy | undefined;
  afterEach(async () => {
    await gh?.stop();
    gh = undefined;
  });

  it.each(cases)('$name → $code', async ({ overrides, bytes, code, reason }) => {
    gh = await startProxy(kafkaBootstrap, overrides);
    const { proxy, logs, bootstrap } = gh;
    const idle = code === 'GH_IDLE_TIMEOUT';

    // A well-behaved client, connected before the bad one arrives.
    const admin = kafkaClient(bootstrap, 'bystander').admin();
    await admin.connect();
    try {
      await admin.listTopics();

      const outcome = await sendRaw(bootstrap, bytes);
      // Nothing reached the bad client: no broker answer, no partial frame.
      expect(outcome.received.length).toBe(0);

      // Exactly that connection was closed, with the right code and a logged reason.
      const conn = connIdOf(logs, outcome.localPort);
      expect(conn, 'the proxy logged the raw connection').toBeDefined();
      const closed = logs.filter((l) => l.conn === conn && l.msg === 'connection closed');
      expect(closed).toHaveLength(1);
      expect(closed[0]).toMatchObject({ level: 40, code });
      expect(closed[0]!.reason).toMatch(reason);
      expect(warnLines(logs, code).length).toBeGreaterThanOrEqual(1);
      if (idle) {
        // The bystander's connections idle as long as the raw one and may time out too.
        expect(proxy.stats.closedByCode[code]).toBeGreaterThanOrEqual(1);
      } else {
        expect(proxy.stats.closedByCode).toEqual({ [code]: 1 });
      }

      // The bystander still works (after an idle timeout, kafkajs reconnects by itself).
      expect(Array.isArray(await admin.listTopics())).toBe(true);
      if (!idle) expect(proxy.stats.closedByCode, 'no other connection was closed').toEqual({ [code]: 1 });
    } finally {
      await admin.disconnect();
    }

    // And new clients get in.
    expect(Array.isArray(await adminListTopics(bootstrap))).toBe(true);
    const md = await kcat(bootstrap, ['-L', '-m', '10']);
    expect(md.code, md.stderr).toBe(0);
    expect(kcatBrokers(md.stdout)).toHaveLength(1);
  });
});
