/**
 * The remembered ApiVersions answers: learned answers cost no broker connection; a missing one is
 * asked for once however many connections want it at the same time; a failed ask is not repeated
 * for a while; old answers are refreshed in the background; a request the broker would find
 * invalid is answered as the broker answers it, without asking.
 */
import { describe, expect, it } from 'vitest';
import { defaultApiVersionsResponse } from '../../../protocol/generated/api-versions-response.js';
import { RememberedApiVersions, type ApiVersionsAnswers } from './remembered-api-versions.js';

const request = { clientSoftwareName: 'kafkajs', clientSoftwareVersion: '2.2.4' };

function answers(tag: number): ApiVersionsAnswers {
  const out = new Map();
  for (let v = 0; v <= 4; v++) out.set(v, { body: { ...defaultApiVersionsResponse(), apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: tag }] }, version: v });
  return out;
}

function setup(ask: (target: number) => Promise<ApiVersionsAnswers> = async () => answers(4)) {
  let now = 1_000_000;
  const asked: number[] = [];
  const remembered = new RememberedApiVersions({
    ask: (target) => {
      asked.push(target);
      return ask(target);
    },
    maxAgeMs: 60_000,
    retryAfterMs: 1000,
    now: () => now,
  });
  return { remembered, asked, advance: (ms: number) => (now += ms) };
}

describe('remembered ApiVersions answers', () => {
  it('answers from what discovery learned without asking, per request version and target', async () => {
    const { remembered, asked } = setup();
    remembered.learn(-1, answers(4));
    for (let v = 0; v <= 4; v++) expect((await remembered.answer(-1, request, v)).version).toBe(v);
    expect(asked).toEqual([]);
    await remembered.answer(2, request, 3); // another target: its own answers
    expect(asked).toEqual([2]);
  });

  it('asks once for many connections wanting a missing answer at the same time', async () => {
    let release!: () => void;
    const { remembered, asked } = setup(() => new Promise((r) => (release = () => r(answers(4)))));
    const pending = Array.from({ length: 50 }, () => remembered.answer(-1, request, 3));
    release();
    const got = await Promise.all(pending);
    expect(got.every((a) => a.body.apiKeys[0]!.maxVersion === 4)).toBe(true);
    await remembered.answer(-1, request, 2);
    expect(asked).toEqual([-1]);
  });

  it('does not ask again for a while after an ask failed', async () => {
    let fail = true;
    const { remembered, asked, advance } = setup(async () => {
      if (fail) throw new Error('broker down');
      return answers(4);
    });
    for (let i = 0; i < 20; i++) await expect(remembered.answer(-1, request, 3)).rejects.toThrow('broker down');
    expect(asked.length).toBe(1);
    advance(1000);
    fail = false;
    await expect(remembered.answer(-1, request, 3)).resolves.toMatchObject({ version: 3 });
    expect(asked.length).toBe(2);
  });

  it('keeps answering with old answers while fresh ones are asked for in the background, once', async () => {
    const { remembered, asked, advance } = setup(async () => answers(4));
    remembered.learn(-1, answers(3));
    advance(60_000);
    const stale = await Promise.all(Array.from({ length: 10 }, () => remembered.answer(-1, request, 3)));
    expect(stale.every((a) => a.body.apiKeys[0]!.maxVersion === 3)).toBe(true);
    expect(asked).toEqual([-1]);
    await new Promise((r) => setImmediate(r));
    expect((await remembered.answer(-1, request, 3)).body.apiKeys[0]!.maxVersion).toBe(4);
    expect(asked).toEqual([-1]);
  });

  it('answers a v3+ request with a client software name or version the broker refuses with INVALID_REQUEST, as the broker does', async () => {
    const { remembered, asked } = setup();
    for (const bad of [{ ...request, clientSoftwareName: '' }, { ...request, clientSoftwareVersion: 'v 1' }, { ...request, clientSoftwareName: '-kafkajs' }, { ...request, clientSoftwareVersion: '1.' }]) {
      const a = await remembered.answer(-1, bad, 3);
      expect(a).toEqual({ body: { ...defaultApiVersionsResponse(), errorCode: 42 }, version: 3 });
    }
    expect(asked).toEqual([]);
    // Below v3 there are no such fields to judge.
    expect((await remembered.answer(-1, { clientSoftwareName: '', clientSoftwareVersion: '' }, 2)).body.errorCode).toBe(0);
    expect((await remembered.answer(-1, { clientSoftwareName: 'apache-kafka-java', clientSoftwareVersion: '3.9.0' }, 4)).body.errorCode).toBe(0);
  });
});
