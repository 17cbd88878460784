/**
 * Requests are read as the broker reads them: the fields their version defines, with whatever
 * bytes follow ignored (current librdkafka's all-topics Metadata request carries three). For
 * every captured request of every API, and for a default request of every API and version the
 * proxy speaks, the same request with bytes appended decodes to the same body whole and in
 * chunks, is forwarded exactly as it came, and loses only those bytes when a stage re-encodes it.
 */
import { describe, expect, it } from 'vitest';
import { allApis, writeRequestHeader, type ApiCodec } from '../../protocol/generated/index.js';
import { Writer } from '../../protocol/runtime/index.js';
import { loadFrame, loadIndex } from '../../test/protocol/fixtures.js';
import { fakeConnection } from '../../test/helpers/fake-request.js';
import { Exchange, requestHeaderVersion } from './exchange.js';
import { joinFrame, type Frame } from './frame-reader.js';

const TRAILING = Buffer.from([0x00, 0x00, 0x00]); // what librdkafka leaves after a null compact array

function sizePrefixed(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeInt32BE(payload.length, 0);
  payload.copy(out, 4);
  return out;
}

/** The frame in pieces of `size` bytes, as a request that spanned reads reaches the Exchange. */
function chunked(frame: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < frame.length; i += size) parts.push(frame.subarray(i, i + size));
  return parts;
}

function defaultRequestFrame(codec: ApiCodec, version: number): Buffer {
  const w = new Writer(128);
  writeRequestHeader(w, requestHeaderVersion(codec, version), { requestApiKey: codec.apiKey, requestApiVersion: version, correlationId: 7, clientId: 'trailing-test' });
  codec.writeRequest(w, version, codec.defaultRequest());
  return Buffer.from(w.finish());
}

/** The checks, for one request payload (size prefix excluded). */
function expectTrailingIgnored(codec: ApiCodec, payload: Buffer): void {
  const plain = new Exchange(fakeConnection(), codec, sizePrefixed(payload));
  const expected = plain.body();
  const withTail = sizePrefixed(Buffer.concat([payload, TRAILING]));

  const whole = new Exchange(fakeConnection(), codec, withTail);
  expect(whole.skim()).toEqual(expected);
  expect(whole.upstreamWire()).toBe(withTail); // forwarded as it came, tail and all

  const parts: Frame = chunked(withTail, 5);
  const split = new Exchange(fakeConnection(), codec, parts);
  expect(() => split.skim()).not.toThrow();
  expect(split.upstreamWire()).toBe(parts);

  // A stage that changes the body re-encodes the fields it knows; the tail is not among them.
  whole.setBody(whole.body());
  expect(joinFrame(whole.upstreamWire()).equals(sizePrefixed(payload))).toBe(true);
}

describe('requests with bytes after their last field', () => {
  const index = loadIndex();
  const captured = (index?.frames ?? []).filter((f) => f.direction === 'request');

  it('the captures cover the APIs clients use', () => {
    expect(new Set(captured.map((f) => f.apiName)).size).toBeGreaterThanOrEqual(45);
  });

  for (const entry of captured) {
    it(`${entry.apiName} v${entry.apiVersion} from ${entry.client} (${entry.file})`, () => {
      const codec = allApis().find((c) => c.apiKey === entry.apiKey)!;
      expectTrailingIgnored(codec, loadFrame(entry));
    });
  }

  for (const codec of allApis()) {
    it(`${codec.name}: a default request of every version ${codec.minVersion}-${codec.maxVersion}`, () => {
      for (let v = codec.minVersion; v <= codec.maxVersion; v++) expectTrailingIgnored(codec, defaultRequestFrame(codec, v));
    });
  }
});

describe('strictness that protects the proxy stays', () => {
  it('a declared length that runs past the frame is refused with GH_FRAME_INVALID', () => {
    const codec = allApis().find((c) => c.name === 'Metadata')!;
    const payload = defaultRequestFrame(codec, 12);
    // Metadata v12's body starts with the topics' compact array length: claim 100 topics.
    const header = payload.length - 4; // topics(1) allowAutoTopicCreation(1) includeTopicAuthorizedOperations(1) tags(1)
    const broken = Buffer.from(payload);
    broken[header] = 101;
    let code: string | undefined;
    try {
      new Exchange(fakeConnection(), codec, sizePrefixed(broken)).skim();
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).toBe('GH_FRAME_INVALID');
  });
});
